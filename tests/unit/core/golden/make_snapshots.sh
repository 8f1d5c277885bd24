#!/bin/bash
# Drives a seqd binary through a fixed session and keeps its newest snapshot.
# usage: make_snapshots.sh BINARY VERSION OUT
set -e
B=$1; V=$2; OUT=$3; P=$((31000 + V))
D=$(mktemp -d)
$B --port $P --dir $D --snapshot-threshold 16 --snapshot-trailing 16 > $D/log 2>&1 &
pid=$!
for i in $(seq 50); do redis-cli -p $P PING >/dev/null 2>&1 && break; sleep 0.1; done
c() { redis-cli -p $P "$@" > /dev/null; }
c CREATE a 1 100
for i in 1 2 3 4 5; do c NEXT a; done
c NEXT a COUNT 10                 # 6..15
c NEXT a KEY k1                   # 16
c ADDRANGE a 1000 1009
c CREATE b 500 599 START 510
c NEXT b                          # 510
c CREATE z 1 10
c DROP z
if [ $V -ge 2 ]; then
  c VOID a 3 spoiled
  c VOID a 7 "cancelled by customer"
fi
if [ $V -ge 3 ]; then
  c CREATE g 1 1000 MODE gapless
  for i in 1 2 3 4; do c NEXT g; done         # 1..4 final
  c RESERVE g TTL 0 KEY r1                    # 5 reserved
  c RESERVE g TTL 0                           # 6 reserved
  c RELEASE g 6                               # 6 released
  c CREATE w 1 100 NOTBEFORE 2000000000 NOTAFTER 2100000000
  c CREATE ca 1 100000 MODE cached CACHE 10 WARN 5
fi
if [ $V -ge 5 ]; then
  c ACL SETUSER sales on '>s3cret' '~policies-*' +@issue +@read
  c ACL SETUSER ops on nopass '~*' +@all -drop
  redis-cli -p $P --user ops --pass any VOID a 9 "voided by ops" > /dev/null
fi
if [ $V -ge 6 ]; then
  c CREATE inv 1 999999 PERIOD yearly TZ +01:00 FORMAT '{period}/{n:6}-{check:mod97}' LABEL PT-ABCD
  c NEXT inv                                  # 1
  c NEXT inv KEY ord-1                        # 2
  c ADDRANGE inv 2000000 2000009 LABEL PT-EFGH
  c SETFORMAT inv 'ATCUD:{label}-{n}'
  c CREATE pol 202043200000000 202043210000000 FORMAT 'POL-A-{n}-{check:luhn}'
  c NEXT pol COUNT 3                          # ...000..002
  c CREATE m 1 100 FORMAT '{n}{check:mod11:skip}' MODE gapless
  c NEXT m COUNT 6                            # 1..7 but 6 (mod11 remainder 10: skipped)
fi
for i in $(seq 20); do c LIST; done          # enough entries for a snapshot
sleep 0.5
kill $pid; wait $pid || true
snap=$(ls $D/raft | grep '^snapshot-' | grep -v meta | sort -t- -k3 -n | tail -1)
cp $D/raft/$snap $OUT
if [ $V -ge 4 ]; then
  # from version 4 on the server frames the core's bytes (SQF2, SQF3):
  # keep what the core wrote, from its magic on
  off=$(grep -obUa SEQS $OUT | head -1 | cut -d: -f1)
  tail -c +$((off + 1)) $OUT > $OUT.core && mv $OUT.core $OUT
fi
echo "v$V: $snap $(stat -c %s $OUT) bytes, magic $(head -c4 $OUT)"
rm -rf $D
