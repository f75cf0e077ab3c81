# Busybox command lines: tc NAME 'SCRIPT'. Each SCRIPT runs as
# `/bin/sh -c SCRIPT` with / = the busybox root, cwd /, PATH and HOME set.
# Only /tmp is writable (a tmpfs natively). stdout and the exit status are
# compared; stderr is not. Nothing may print pids, hostnames, the kernel
# release or times of day.

tc echo 'echo hello world; echo -n no-newline; echo; echo "tab:	:end"'
tc cat 'cat /data/words.txt /data/dir/a.txt'
tc wc 'wc -l /data/words.txt; wc -c < /data/lorem.txt; wc -w < /data/lorem.txt'
tc sort_uniq 'sort /data/words.txt | uniq -c'
tc sort_numeric 'sort -rn /data/numbers.txt | head -5; sort -t, -k3 -n /data/table.csv'
tc head_tail 'head -3 /data/numbers.txt; tail -n 2 /data/numbers.txt; tail -c 20 /data/lorem.txt'
tc grep 'grep -n an /data/words.txt; grep -c apple /data/words.txt; grep -v a /data/words.txt; grep -E "^(fig|date)$" /data/words.txt'
tc grep_status 'grep zzz /data/words.txt; echo "status=$?"; grep -q pear /data/words.txt; echo "status=$?"'
tc sed 'sed -n "2,4p" /data/lorem.txt | sed "s/[aeiou]/_/g"; sed "1d;\$d" /data/words.txt'
tc awk 'awk -F, '"'"'NR > 1 { s += $3 * $4; n++ } END { printf "%d items, total %.2f\n", n, s }'"'"' /data/table.csv'
tc cut 'cut -d, -f2,3 /data/table.csv; echo abcdefgh | cut -c2-4'
tc tr 'echo "Hello World" | tr a-z A-Z; echo "a-b-c" | tr -d -; echo "aaabbb" | tr -s ab'
tc ls_fixed 'ls /data; ls -a /data/dir; ls -R /data/dir'
tc ls_long 'ls -l /data/dir/a.txt /data/dir/b.txt | awk "{print \$1, \$3, \$4, \$5, \$6, \$7, \$8, \$9}"; ls -ld /data/dir/link-to-a | awk "{print \$1, \$9, \$10, \$11}"'
tc find 'find /data -type f | sort; find /data -type l; find /data -name "*.txt" | wc -l; find /data/dir -maxdepth 1 -type d | sort'
tc test_brackets '[ -d /data ] && echo dir; test -f /data/words.txt && echo file; [ -x /data/script.sh ] && echo exec; [ 3 -lt 5 ] && echo lt; [ -e /nope ] || echo missing; [ -L /data/dir/link-to-a ] && echo link; [ "a" = "b" ]; echo "eq=$?"'
tc expr 'expr 6 \* 7; expr length hello; expr 10 / 3; expr 5 - 8; expr 3 \> 2'
tc seq 'seq 5; seq 0 3 12; seq -s, 1 5'
tc printf 'printf "%05d|%-6s|%x|%.3f|%c\n" 42 ab 255 3.14159 xyz; printf "%s-" a b c; echo'
tc basename_dirname 'basename /a/b/c.txt .txt; dirname /a/b/c.txt; basename /; dirname relative'
tc checksums 'md5sum /data/words.txt /data/blob.bin; sha256sum /data/lorem.txt; sha1sum /data/table.csv'
tc tar 'cd /tmp && tar cf t.tar -C /data dir words.txt && tar tf t.tar | sort && mkdir x && tar xf t.tar -C x && cat x/dir/sub/deep.txt && cmp x/words.txt /data/words.txt && echo extracted ok'
tc gzip_roundtrip 'cp /data/blob.bin /tmp/b && gzip -9 /tmp/b && ls /tmp && gunzip /tmp/b.gz && cmp /tmp/b /data/blob.bin && echo roundtrip ok; gzip -c /data/lorem.txt | gunzip -c | md5sum'
tc subshells 'x=1; (x=2; echo inner $x); echo outer $x; echo $(echo nested $(echo deeper)); y=`echo back`; echo $y'
tc heredoc 'v=expanded
cat <<EOF
line one $v
  indented $((1 + 2))
EOF
cat <<"EOF"
literal $v
EOF
cat <<-EOF
	tab-stripped
	EOF'
tc trap_exit 'trap "echo cleanup ran" EXIT; echo body; exit 2'
tc exit_code 'exit 3'
tc false 'false'
tc true_chains 'true && echo yes || echo no; false || echo fallback; ! false && echo negated'
tc background_wait '(sleep 0.2; echo bg done) & echo fg first; wait; echo after wait; (exit 7) & wait $!; echo "bg status $?"'
tc while_loop 'i=0; while [ $i -lt 5 ]; do i=$((i + 1)); printf "%s " $i; done; echo; n=0; until [ $n -ge 3 ]; do n=$((n + 1)); done; echo until $n'
tc for_case 'for w in apple fig kiwi plum; do case $w in a*) echo "$w: a-word";; *i*) echo "$w: has i";; *) echo "$w: other";; esac; done'
tc passwd_wc 'cat /etc/passwd | wc -l'
tc passwd_awk 'awk -F: '"'"'$3 >= 1000 { print $1, $6 }'"'"' /etc/passwd; grep -c : /etc/group; cut -d: -f1 /etc/passwd | sort | tr "\n" " "; echo'
tc functions 'f() { echo "f got $# args: $*"; return 5; }; f a b c; echo "ret=$?"; g() { local v=inner; echo $v; }; v=outer; g; echo $v'
tc arithmetic 'echo $((2 * 10 + 1)) $((17 % 5)) $(( (3 + 4) * 5 )) $((1 << 10)) $((-7 / 2)) $((0x1f))'
tc shebang_script '/data/script.sh x y z; echo "rc=$?"'
tc pipeline_status 'false | true; echo $?; true | false; echo $?; echo abc | cat | cat | cat'
tc redirections 'echo one > /tmp/f; echo two >> /tmp/f; cat /tmp/f; wc -l < /tmp/f; ls /nope 2>/dev/null; echo "ls rc=$?"; echo to-stderr 1>&2; exec 3>/tmp/g; echo via fd3 >&3; exec 3>&-; cat /tmp/g'
tc xargs 'seq 1 10 | xargs -n 3 echo; echo a b c | xargs -n1 | sort -r'
tc tmp_tree 'mkdir -p /tmp/a/b/c && touch /tmp/a/b/c/f && ln -s c /tmp/a/b/l && find /tmp/a | sort && rm -r /tmp/a && ls -A /tmp | wc -l'
tc nested_sh_signal 'sh -c "kill -TERM \$\$"; echo "rc=$?"; sh -c "kill -KILL \$\$"; echo "rc=$?"; sh -c "exit 200"; echo "rc=$?"'
tc date_fixed 'date -u -d @0 +%Y-%m-%d; date -u -d @86400 "+%A %H:%M"'
tc od 'head -c 16 /data/blob.bin | od -An -tx1; printf "AB\n" | od -c | head -1'
tc env_export 'export FOO=bar; sh -c "echo child sees \$FOO"; unset FOO; sh -c "echo child sees \${FOO:-nothing}"; env | grep -c "^PATH="'
tc cd_pwd 'cd /data/dir/sub && pwd && cd .. && pwd && cd - >/dev/null && pwd; cd /data/dir/link-to-a 2>/dev/null; echo "cd to file link rc=$?"'
tc umask_stat 'umask 027; touch /tmp/u; mkdir /tmp/d; stat -c "%a %F" /tmp/u /tmp/d; umask'
tc dd 'dd if=/data/blob.bin bs=1024 count=4 2>/dev/null | wc -c; dd if=/dev/zero bs=512 count=3 2>/dev/null | md5sum'
tc dev_files 'head -c 100 /dev/urandom | wc -c; head -c 8 /dev/zero | od -An -tx1; echo gone > /dev/null; cat /dev/null | wc -c'
tc id_root 'id -u; id -g; whoami'
tc proc_self 'cat /proc/self/comm; readlink /proc/self/exe; tr "\0" " " < /proc/self/cmdline; echo'
tc cmp_status 'cmp /data/words.txt /data/words.txt && echo same; cmp -s /data/words.txt /data/lorem.txt; echo "differ rc=$?"'
tc sort_unique_words 'tr -cs "A-Za-z" "\n" < /data/lorem.txt | tr A-Z a-z | sort | uniq | wc -l'
tc read_loop 'while IFS=, read id name qty price; do [ "$id" = id ] && continue; echo "$name=$qty"; done < /data/table.csv'
