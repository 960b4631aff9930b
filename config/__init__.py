"""config.toml, parsed once at the edge into frozen, validated models.

The rest of the code receives these objects, never a dict and never the path.
Secrets never live in the file: channels name the environment variable that
holds them (``password_env``, ``webhook_url_env``, ``urls_env``).
"""
