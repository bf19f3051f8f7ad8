#!/bin/bash
# Test 2: forgeries. Each case = one gomember connection as a; prints case, expectation, result, victim's lines.
cd "$(dirname "$0")"; F=certs/forge
run() { # name expect args...
  local name=$1 exp=$2; shift 2
  local ln=$(wc -l < run/v.out)
  local res=$(./m.sh -q -hold ${HOLD:-1500ms} "$@" 2>&1 | grep -E 'RESULT|ENDED' | sed 's/^\[[^]]*\] //')
  sleep 0.3
  local vl=$(tail -n +$((ln+1)) run/v.out | grep -v ' up (incarnation' | tr '\n' ' ' | cut -c1-230)
  printf '%-22s | exp: %-28s | %s\n%24s victim: %s\n' "$name" "$exp" "$res" "" "$vl"
}
U="-upcert $F/a_new2.pem"
K="-upkey $F/a_new2.key"
./m.sh -q -hold 200ms -saveexp run/exp_prev.hex >/dev/null 2>&1
case_set=${1:-all}
if [[ $case_set == all || $case_set == sig ]]; then
run control_valid        "ALIVE"                 $U $K
run other_conn_exporter  "GOODBYE 5"             $U $K -exporter run/exp_prev.hex
run wrong_label          "GOODBYE 5"             $U $K -label EXPORTER-reign-certificate-updatE
run label_nonempty_ctx   "GOODBYE 5"             $U $K -context 00
run label_empty_ctx      "ALIVE (same as none)"  $U $K -ctxempty
run tls_label            "GOODBYE 5"             $U $K -label "EXPORTER-Channel-Binding"
run prefix_no_zero       "GOODBYE 5"             $U $K -prefix "reign certificate update"
run prefix_empty         "GOODBYE 5"             $U $K -prefix ""
run signed_by_old_key    "GOODBYE 5"             $U -upkey certs/a.key
run signed_by_b_key      "GOODBYE 5"             $U -upkey certs/b.key
run sig_bitflip          "GOODBYE 5"             $U $K -flipsig
run sig_empty            "GOODBYE 5"             $U $K -siglen 0
run sig_huge_65535       "GOODBYE 5"             $U $K -siglen 65535
run scheme_unknown_1234  "GOODBYE 5"             $U $K -scheme 0x1234
run scheme_ed25519_on_ec "GOODBYE 5"             $U $K -scheme 0x0807
run scheme_ecdsa_sha1    "GOODBYE 5 (not TLS1.3)" $U $K -scheme 0x0203
run scheme_p384_on_p256  "GOODBYE 5"             $U $K -scheme 0x0503
fi
if [[ $case_set == all || $case_set == cert ]]; then
run cert_for_b           "GOODBYE 5"             -upcert $F/b_other.pem -upkey $F/b_other.key
run cert_for_h_real      "GOODBYE 5"             -upcert certs/h.pem -upkey certs/h.key
run cert_nonmember_z     "GOODBYE 5"             -upcert $F/z_nonmember.pem -upkey $F/z_nonmember.key
run cert_badcn           "GOODBYE 5"             -upcert $F/a_badcn.pem -upkey $F/a_badcn.key
run other_ca             "GOODBYE 4"             -upcert $F/a_otherca.pem -upkey $F/a_otherca.key
run other_ca_samename    "GOODBYE 4"             -upcert $F/a_otherca_samename.pem -upkey $F/a_otherca_samename.key
run expired              "GOODBYE 3"             -upcert $F/a_expired.pem -upkey $F/a_expired.key
run not_yet_valid        "GOODBYE 3"             -upcert $F/a_notyet.pem -upkey $F/a_notyet.key
run revoked              "GOODBYE 2"             -upcert $F/a_torevoke.pem -upkey $F/a_torevoke.key
run ca_cert_as_leaf      "GOODBYE 4 (unknown_ca)" -upcert certs/ca.pem -upkey certs/ca.key
run ca_with_cn_a_as_leaf "GOODBYE 4 (unknown_ca)" -upcert $F/a_is_ca.pem -upkey $F/a_is_ca.key
run no_clientauth        "GOODBYE 5"             -upcert $F/a_noclientauth.pem -upkey $F/a_noclientauth.key
run no_keyusage          "GOODBYE 5"             -upcert $F/a_noku.pem -upkey $F/a_noku.key
run via_intermediate     "ALIVE"                 -upcert $F/a_via_inter.pem -upkey $F/a_via_inter.key
run inter_missing        "GOODBYE 4"             -upcert $F/a_via_inter_noint.pem -upkey $F/a_via_inter_noint.key
run ed25519_leaf         "ALIVE"                 -upcert $F/a_ed25519.pem -upkey $F/a_ed25519.key -scheme 0x0807
run p384_leaf_0503       "ALIVE"                 -upcert $F/a_p384.pem -upkey $F/a_p384.key -scheme 0x0503
run p384_leaf_0403       "GOODBYE 5 (TLS1.3 binds curve)" -upcert $F/a_p384.pem -upkey $F/a_p384.key -scheme 0x0403
run rsa_leaf_pss         "ALIVE"                 -upcert $F/a_rsa.pem -upkey $F/a_rsa.key -scheme 0x0804
run rsa_leaf_pkcs1       "GOODBYE 5 (not TLS1.3)" -upcert $F/a_rsa.pem -upkey $F/a_rsa.key -scheme 0x0401
run same_cert_again      "ALIVE"                 -upcert certs/a.pem -upkey certs/a.key
run new_cert_same_key    "ALIVE"                 -upcert $F/a_samekey.pem -upkey $F/a_samekey.key
run garbage_der          "GOODBYE 5 (undecodable)" -upcert run/garbage.der -upkey $F/a_new2.key
fi
if [[ $case_set == all || $case_set == frame ]]; then
run count_0              "closed, no GOODBYE"    $U $K -count 0
run count_9              "closed, no GOODBYE"    $U $K -repeat 9 -count 9
run count_8_copies       "ALIVE?"                $U $K -repeat 8
run count_2_one_present  "closed, no GOODBYE"    $U $K -count 2
run zero_len_cert        "closed, no GOODBYE"    $U $K -zerocert
run certlen_plus1        "closed, no GOODBYE"    $U $K -lenlie 1
run certlen_minus1       "closed, no GOODBYE"    $U $K -lenlie -1
run certlen_plus5000     "closed, no GOODBYE"    $U $K -lenlie 5000
run siglen_plus1         "closed, no GOODBYE"    $U $K -siglie 1
run siglen_minus1        "closed, no GOODBYE"    $U $K -siglie -1
run trailing_1           "closed, no GOODBYE"    $U $K -trailing 1
run frame_over_max       "closed before body"    $U $K -flen 8388609
run presynced_valid      "? (doc silent)"        $U $K -presynced
run presynced_forged     "? GOODBYE 5"           $U -upkey certs/b.key -presynced
fi
