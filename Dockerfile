# Static otpgate image. Build: docker build -t otpgate .
# Run (state in a volume, config mounted read-only):
#   docker run -v otpgate:/var/lib/otpgate -v ./otpgate.toml:/etc/otpgate/otpgate.toml:ro \
#     -p 1812:1812/udp -p 389:1389 otpgate
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Pure Go (no cgo, SQLite included), so the binary is fully static.
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /otpgate ./cmd/otpgate

FROM scratch
COPY --from=build /otpgate /otpgate
# Non-root; the state directory must be writable by this uid.
USER 65532:65532
WORKDIR /var/lib/otpgate
VOLUME /var/lib/otpgate
EXPOSE 1812/udp 1389/tcp 1636/tcp
ENTRYPOINT ["/otpgate", "-c", "/etc/otpgate/otpgate.toml"]
CMD ["serve"]
