"""newsbot: chat with a collection of news articles, with cited answers (see README.md)."""
