//! Networking: TCP, UDP and Unix-domain sockets on the runtime's reactor.
