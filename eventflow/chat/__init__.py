"""Chat and Q&A: messages, questions, upvotes and their fallback polls."""
