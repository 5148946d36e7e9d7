"""The aiohttp shell: app factory, handlers, middleware, logging and the process runner."""
