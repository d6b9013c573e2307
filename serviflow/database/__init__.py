"""ServiFlow's database backend (settings.DATABASES ENGINE): see ``base``."""
