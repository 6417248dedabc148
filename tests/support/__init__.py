"""Test support: real servers on loopback (uvicorn in a thread or a process, redis-server)."""
