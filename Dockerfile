# The operator image: slim, pinned, non-root. Build: docker build -t champion:0.1.0 .
FROM python:3.11.7-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY operator ./operator
RUN python -m venv /opt/champion \
 && /opt/champion/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.11.7-slim-bookworm
COPY --from=build /opt/champion /opt/champion
ENV PATH=/opt/champion/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["champion"]
CMD ["run"]
