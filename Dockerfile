# mediawatch as a container: docker build -t mediawatch . && docker run -v mw-data:/app/data mediawatch
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MEDIAWATCH_CONFIG=/app/config.toml
WORKDIR /app
RUN useradd --system --create-home --home-dir /home/mediawatch mediawatch

COPY pyproject.toml README.md ./
COPY errors ./errors
COPY clock ./clock
COPY logs ./logs
COPY watchlist ./watchlist
COPY config ./config
COPY storage ./storage
COPY spiders ./spiders
COPY alerts ./alerts
COPY reports ./reports
COPY archive ./archive
COPY scheduler ./scheduler
COPY mediawatch ./mediawatch
COPY config.toml ./
RUN pip install --no-cache-dir '.[postgres,cluster]' && mkdir -p /app/data && chown mediawatch /app/data

USER mediawatch
VOLUME ["/app/data"]
EXPOSE 9464
# init is safe to repeat: it upgrades the schema, then the service runs in the foreground.
CMD ["sh", "-c", "mediawatch init && exec mediawatch --log-format json run"]
