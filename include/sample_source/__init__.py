"""The offline default source: real sample media served from 127.0.0.1 (HTTP, plus S3 through moto)."""
