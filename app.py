"""Run the chat app: ingest corpus/ into the embedded store (unchanged articles are skipped),
then serve the web UI, embed page and HTTP API. `make run` calls this."""

from bot.server import main

if __name__ == "__main__":
    main()
