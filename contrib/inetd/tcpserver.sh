#!/bin/sh
# forkserve under tcpserver (Debian package ucspi-tcp): tcpserver accepts and
# forks, and each connection runs `forkserve --inetd`, which takes REMOTE_ADDR
# from TCPREMOTEIP/TCPREMOTEPORT. tcpserver gives the socket as standard input
# and output only; standard error stays tcpserver's own, and forkserve sends
# the access log ('-', standard output, the client here) there too, beside
# the errors (pipe it to multilog or the journal).
#
#   contrib/inetd/tcpserver.sh                       # 0.0.0.0:8080, ./ as root
#   HOST=127.0.0.1 PORT=8888 ROOT=/srv/www contrib/inetd/tcpserver.sh
#
# -c 64: at most 64 connections at once (more wait in the backlog, -b);
# -H -R -l 0: no DNS or ident look-ups per connection.
# Add -u UID -g GID (numbers) to drop root after binding a port below 1024.
exec tcpserver -v -c "${CONNECTIONS:-64}" -b 128 -H -R -l 0 "${HOST:-0.0.0.0}" "${PORT:-8080}" \
  "${FORKSERVE:-forkserve}" --inetd --root "${ROOT:-.}" "$@"
