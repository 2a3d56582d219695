#!/bin/sh
# The nightly batch, as the scheduler runs it (systemd timer or cron).
#
# Takes every *.csv in the drop folder (the extension in any case: B.CSV
# too) in name order, each as its own batch, under one lock, with the
# production key, appending to a log file; it logs every file taken, and
# every other file of the folder as not taken. Exit status, for the
# scheduler and the alerting around it:
#   0  done: every file's rows issued or already issued
#   2  done, with rejected rows to review (rejects.csv in each batch folder)
#   8  done, but the drop folder holds files that were not taken (another
#      extension, unreadable): the log names them; alert someone
#   1  failed: alert someone (bad input file, no filings, ledger or key
#      problem; a batch that could not be handed to the print vendor)
#  10  stopped (SIGTERM, SIGINT: `systemctl stop`, a shutdown) at a safe point;
#      the next run finishes the batch, nothing is lost
# With ACCESS_LETTERS_DELIVER=yes, each finished batch is then handed to the
# print vendor over SFTP (`deliver`, [vendor] of ACCESS_LETTERS_CONFIG): a
# hand-off killed midway is resumed by the next run, and a batch already
# delivered is not sent again.
# Every setting can be overridden from the environment (systemd's
# EnvironmentFile, or the crontab line), so the script itself never changes.
set -u

BIN="${ACCESS_LETTERS_BIN:-/usr/local/bin/access-letters}"
DROP="${ACCESS_LETTERS_DROP:-/var/spool/access-letters/incoming}"
OUT="${ACCESS_LETTERS_OUT:-/var/lib/access-letters/output}"
KEY="${ACCESS_LETTERS_KEY:-/etc/access-letters/production.key}"
# The ledger defaults to OUT/ledger.sqlite, made on the very first night.
LEDGER_FILE="${ACCESS_LETTERS_LEDGER_FILE:-}"
LOG="${ACCESS_LETTERS_LOG:-/var/log/access-letters/nightly.log}"
LOCK="${ACCESS_LETTERS_LOCK:-/run/lock/access-letters-nightly.lock}"
# Agency configuration (agency.toml with [vendor]); the built-in one if unset.
CONFIG="${ACCESS_LETTERS_CONFIG:-}"
DELIVER="${ACCESS_LETTERS_DELIVER:-no}"

log() { printf '%s access-letters-nightly: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$LOG"; }

# One nightly run at a time, whatever starts it (the ledger has its own lock
# too; this one keeps a second scheduler from even starting).
exec 9>>"$LOCK" || { echo "cannot open lock file $LOCK" >&2; exit 1; }
if ! flock -n 9; then
    log "another nightly run holds $LOCK; not starting"
    exit 1
fi

# The more serious of the night's statuses: 1, then 8, then 2, then 0.
worse() {
    case "$worst:$1" in
        1:*|*:0) ;;
        *:1) worst=1 ;;
        8:*) ;;
        *:8) worst=8 ;;
        *) worst=2 ;;
    esac
}

# A stop reaches the batch too (same process group, or systemd's cgroup):
# the batch stops at its next safe point and exits 10; the script waits for
# it instead of dying first, then stops too.
stop=0
trap 'stop=1' TERM INT

worst=0
found=0
not_taken=0
for input in "$DROP"/* "$DROP"/.[!.]*; do
    [ -e "$input" ] || [ -L "$input" ] || continue
    [ -d "$input" ] && continue
    case "$input" in
        *.[cC][sS][vV]) ;;
        *) log "NOT TAKEN (not a .csv file): $input"; not_taken=$((not_taken + 1)); continue ;;
    esac
    if [ ! -f "$input" ] || ! : <"$input" 2>/dev/null; then
        log "NOT TAKEN (not a readable regular file): $input"
        not_taken=$((not_taken + 1))
        continue
    fi
    found=$((found + 1))
    log "batch for $input"
    said="$(mktemp)" || { log "cannot make a temporary file"; exit 1; }
    "$BIN" run --input "$input" --out "$OUT" --key "$KEY" ${LEDGER_FILE:+--ledger "$LEDGER_FILE"} \
        ${CONFIG:+--config "$CONFIG"} >"$said" 2>&1
    status=$?
    cat "$said" >>"$LOG"
    batch_dir="$(sed -n 's/^output: //p' "$said" | head -n 1)"
    rm -f "$said"
    case "$status" in
        10) log "stopped (exit 10): $input; the next run finishes it"; exit 10 ;;
        0) log "done: $input" ;;
        2) log "done with rejects to review: $input"; worse 2 ;;
        *) log "FAILED (exit $status): $input"; worse 1 ;;
    esac
    if [ "$DELIVER" = yes ] && { [ "$status" -eq 0 ] || [ "$status" -eq 2 ]; } && [ -n "$batch_dir" ]; then
        "$BIN" deliver "$batch_dir" --out "$OUT" ${LEDGER_FILE:+--ledger "$LEDGER_FILE"} \
            ${CONFIG:+--config "$CONFIG"} >>"$LOG" 2>&1
        case "$?" in
            0) log "delivered to the print vendor: $batch_dir" ;;
            3) log "already delivered: $batch_dir" ;;
            *) log "DELIVERY FAILED: $batch_dir (the next run resumes it)"; worse 1 ;;
        esac
    fi
    if [ "$stop" -eq 1 ]; then
        log "stopped before the next file; the next run takes the rest"
        exit 10
    fi
done
if [ "$not_taken" -gt 0 ]; then
    log "$not_taken file(s) in $DROP not taken (named above): move, rename or remove them"
    worse 8
fi
if [ "$found" -eq 0 ]; then
    log "no input files in $DROP: the upstream export did not arrive"
    exit 1
fi
exit "$worst"
