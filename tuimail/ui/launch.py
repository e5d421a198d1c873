"""`tuimail` with no command: check the config, then run the TUI."""
from __future__ import annotations

import sys
from pathlib import Path

from tuimail.model.config import Config, ConfigError
from tuimail.store.config_file import load_config


def launch(config_path: Path, account: str | None = None) -> int:
    """Run the TUI; 2 with a one-line message when the config exists but is invalid.

    No config file means a first run: the app opens the account setup form.
    """
    config: Config | None = None
    if config_path.exists():
        try:
            config = load_config(config_path)
            if account is not None:
                config.account(account)
        except ConfigError as exc:
            print(f"tuimail: config error: {exc}", file=sys.stderr)
            return 2
    elif account is not None:
        print(f"tuimail: config error: {config_path}: no such file, so no account '{account}'",
              file=sys.stderr)
        return 2

    from tuimail.ui.app import TuimailApp  # Textual only once the config is known to be usable

    app = TuimailApp(config_path, config, account=account)
    app.run()
    return app.return_code or 0
