#!/usr/bin/env bash
# block-user.sh: the enforcement handler of a BlockUser target. Blocks or unblocks an IAM principal
# with the AWS CLI.
#
# Standard input: one request, as Tripline's BlockRequest writes it:
#   {"action": "block"|"unblock", "dryRun": false,
#    "principal": {"kind": "iamUser"|"assumedRole"|"federatedUser"|"identityCenterUser", "key": "...",
#                  "arn", "accountId", "userName", "roleName", "roleArn", "sessionName", "accessKeyId",
#                  "federatedUserArn"},
#    "reason": "...", "rule": "...", "eventId": "...",
#    "requestedAt": "2026-11-25T10:00:00Z", "expiresAt": "2026-11-25T11:00:00Z"|null}
#
# What it does:
#   IAM user, block:     reads the user's access keys; puts an explicit deny-all inline policy named
#                        TriplineBlock-<key>-<key> (the name records which keys this block deactivated);
#                        deactivates every active access key.
#   IAM user, unblock:   for every inline policy whose name starts with TriplineBlock: reactivates the
#                        keys its name records, then deletes it.
#   assumed role, block: puts the inline role policy TriplineRevokeSessions, denying everything to
#                        sessions whose aws:TokenIssueTime is before requestedAt (what the console's
#                        "Revoke active sessions" does). New sessions of the role still work.
#   assumed role, unblock: deletes that policy.
#   federated and Identity Center users: IAM policies cannot block them; exits 65 (permanent) saying what to do.
#                        (A federated session an IAM user created arrives as that iamUser, with its
#                        sessionName and federatedUserArn and no accessKeyId: the user's deny covers it.)
#
# Dry run ("dryRun": true, or TRIPLINE_DRY_RUN=1): prints every aws command it would run, prefixed
# with "would run:", and changes nothing (it does not call aws at all, so it cannot read the current
# keys or policies: the commands shown use the access key named in the request).
#
# The aws CLI uses its usual configuration (AWS_PROFILE, AWS_REGION…, from the BlockUser target's
# "Environment", where "${AWS_PROFILE:-}" passes on Tripline's own when it is set). Before changing anything it asks `aws sts get-caller-identity` which account its
# credentials are for, and refuses (65) unless that is the principal's account: IAM names are only
# unique within an account, so with an organization trail, or input from several accounts, blocking
# by name with the wrong credentials would lock out a same-named bystander and leave the caller free.
# Give each account its own BlockUser target (a pattern on "account", AWS_PROFILE for that account).
#
# Requires bash 4 or later (mapfile) and python3 (to read the request JSON); the aws CLI for a
# real run.
#
# Exit status: 0 done; 65 (permanent, not retried) a bad request, a principal kind that cannot be
# enforced here (federated or Identity Center user), or credentials for another account than the
# principal's, or a missing tool (python3, bash 4, the aws CLI in a real run: install it, then
# `tripline dlq redrive`); anything else: the failing aws command's status (retried).
#
# Request values are never evaluated: python3 validates every name against IAM's character set
# before it reaches a command line, and every command is run as an argument list. IAM names may
# begin with "-" (a user can be named --no-paginate), so they are passed as --user-name=NAME and
# --role-name=NAME, never as a separate argument the aws CLI would read as an option; access key
# ids ([A-Z0-9]) and policy names (TriplineBlock…) cannot begin with "-".
set -euo pipefail

prog=block-user.sh

if (( BASH_VERSINFO[0] < 4 )); then
    echo "$prog: bash 4 or later is needed (this is bash $BASH_VERSION); install a newer bash" >&2
    exit 65
fi

if ! command -v python3 >/dev/null 2>&1; then
    echo "$prog: python3 is needed to read the request JSON; install python3 and run 'tripline dlq redrive'" >&2
    exit 65
fi

request=$(cat)

# Validates the request; prints action, dry run (0/1), kind, IAM name, access key id ("-" if none),
# requestedAt, account id ("-" if none), one per line. Exits 65 (permanent: a retry cannot fix the request) on anything unexpected.
read_request='
import json, re, sys, time
def fail(message):
    sys.stderr.write("block-user.sh: bad request: " + message + "\n")
    sys.exit(65)
try:
    request = json.loads(sys.stdin.read())
except Exception as error:
    fail("not JSON (%s)" % error)
if not isinstance(request, dict):
    fail("expected a JSON object")
action = request.get("action")
if action not in ("block", "unblock"):
    fail("\"action\" must be \"block\" or \"unblock\"")
dry = request.get("dryRun", False)
if not isinstance(dry, bool):
    fail("\"dryRun\" must be true or false")
principal = request.get("principal")
if not isinstance(principal, dict):
    fail("\"principal\" must be an object")
kind = principal.get("kind")
name_re = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
def name(field):
    value = principal.get(field)
    if not isinstance(value, str) or not name_re.fullmatch(value):
        fail("principal.%s must be an IAM name (1-64 of A-Z a-z 0-9 + = , . @ _ -)" % field)
    return value
if kind == "iamUser":
    iam_name = name("userName")
elif kind == "assumedRole":
    iam_name = name("roleName")
elif kind in ("federatedUser", "identityCenterUser"):
    iam_name = "-"
else:
    fail("principal.kind must be iamUser, assumedRole, federatedUser or identityCenterUser")
key = principal.get("accessKeyId")
if key is None or key == "":
    key = "-"
elif not isinstance(key, str) or not re.fullmatch(r"[A-Z0-9]{16,128}", key):
    fail("principal.accessKeyId must be an access key id (16-128 of A-Z 0-9)")
at = request.get("requestedAt")
if at is None:
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
elif not isinstance(at, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", at):
    fail("\"requestedAt\" must be a UTC time such as 2026-11-25T10:00:00Z")
account = principal.get("accountId")
if account is None or account == "":
    account = "-"
elif not isinstance(account, str) or not re.fullmatch(r"[0-9]{12}", account):
    if kind in ("iamUser", "assumedRole"):
        fail("principal.accountId must be a 12-digit AWS account id")
    account = "-"
print(action); print("1" if dry else "0"); print(kind); print(iam_name); print(key); print(at); print(account)
'

parsed=$(python3 -c "$read_request" <<<"$request") || exit 65
mapfile -t field <<<"$parsed"
action=${field[0]}
dry_run=${field[1]}
kind=${field[2]}
name=${field[3]}
request_key=${field[4]}
requested_at=${field[5]}
account=${field[6]}

case "${TRIPLINE_DRY_RUN:-}" in
    1|true|yes) dry_run=1 ;;
esac

# Prints an argument list so that it can be pasted into a shell.
show() {
    local out="" arg
    for arg in "$@"; do
        if [[ $arg =~ ^[A-Za-z0-9_./:=@+,-]+$ ]]; then
            out+=" $arg"
        else
            out+=" '${arg//\'/\'\\\'\'}'"
        fi
    done
    printf '%s\n' "${out# }"
}

# Prints the outcome line, marked in a dry run.
report() {
    if [[ $dry_run == 1 ]]; then printf 'dry run, nothing changed: %s\n' "$*"; else printf '%s\n' "$*"; fi
}

# Runs aws with these arguments, or prints them in a dry run.
run_aws() {
    if [[ $dry_run == 1 ]]; then
        printf 'would run: '
        show aws "$@"
        return 0
    fi
    aws "$@"
}

if [[ $dry_run != 1 ]] && ! command -v aws >/dev/null 2>&1; then
    # Permanent (65): retrying for a day would hide the failure; the dead letter raises User Block
    # Failed at once, and `tripline dlq redrive` applies the block once the CLI is installed.
    echo "$prog: the aws CLI is not on PATH; install it (https://aws.amazon.com/cli/) and run 'tripline dlq redrive', or use a dry run (\"dryRun\": true or TRIPLINE_DRY_RUN=1)" >&2
    exit 65
fi

# Refuses unless the credentials the aws CLI will use are for the principal's account (see the top).
check_account() {
    if [[ $account == - ]]; then
        echo "$prog: bad request: principal.accountId is missing, so the credentials' account cannot be checked against it" >&2
        exit 65
    fi
    if [[ $dry_run == 1 ]]; then
        printf 'would check: '
        show aws sts get-caller-identity --query Account --output text
        printf '  (must print %s, the principal'"'"'s account)\n' "$account"
        return 0
    fi
    local caller status=0
    caller=$(aws sts get-caller-identity --query Account --output text) || status=$?
    if (( status != 0 )); then
        echo "$prog: aws sts get-caller-identity failed (status $status): cannot tell which account these credentials are for" >&2
        exit "$status"
    fi
    caller=${caller//[$'\r\n\t ']/}
    if [[ $caller != "$account" ]]; then
        echo "$prog: these credentials are for account ${caller:-(none)}, but the principal is in account $account; nothing changed." \
             "Give this target credentials for $account (AWS_PROFILE in the BlockUser target's Environment; one target per account, each with a pattern on \"account\")" >&2
        exit 65
    fi
}

# Prints the ids of the active keys in a list-access-keys answer, one per line.
active_keys='
import json, re, sys
for key in json.load(sys.stdin).get("AccessKeyMetadata", []):
    key_id = key.get("AccessKeyId", "")
    if key.get("Status") == "Active" and re.fullmatch(r"[A-Z0-9]{16,128}", key_id):
        print(key_id)
'

# Prints the TriplineBlock* policy names in a list-user-policies answer, one per line.
block_policies='
import json, re, sys
for policy in json.load(sys.stdin).get("PolicyNames", []):
    if isinstance(policy, str) and re.fullmatch(r"TriplineBlock(-[A-Z0-9]{16,128})*", policy):
        print(policy)
'

deny_all='{"Version":"2012-10-17","Statement":[{"Sid":"TriplineBlock","Effect":"Deny","Action":"*","Resource":"*"}]}'
revoke_sessions='{"Version":"2012-10-17","Statement":[{"Sid":"TriplineRevokeOlderSessions","Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"'"$requested_at"'"}}}]}'

block_iam_user() {
    local keys=() key policy=TriplineBlock
    if [[ $dry_run == 1 ]]; then
        run_aws iam list-access-keys --user-name="$name" --output json
        [[ $request_key == AKIA* ]] && keys=("$request_key")
    else
        local listing
        listing=$(aws iam list-access-keys --user-name="$name" --output json)
        mapfile -t keys < <(python3 -c "$active_keys" <<<"$listing")
    fi
    # An IAM user has at most two access keys; the name (at most 128 characters) records up to four.
    for key in "${keys[@]:0:4}"; do
        [[ -n $key ]] && policy+="-$key"
    done
    run_aws iam put-user-policy --user-name="$name" --policy-name "$policy" --policy-document "$deny_all"
    for key in "${keys[@]}"; do
        [[ -n $key ]] && run_aws iam update-access-key --user-name="$name" --access-key-id "$key" --status Inactive
    done
    report "blocked IAM user $name with policy $policy; deactivated keys: ${keys[*]:-none}"
}

unblock_iam_user() {
    local policies=() policy key keys
    if [[ $dry_run == 1 ]]; then
        run_aws iam list-user-policies --user-name="$name" --output json
        policy=TriplineBlock
        [[ $request_key == AKIA* ]] && policy+="-$request_key"
        policies=("$policy")
    else
        local listing
        listing=$(aws iam list-user-policies --user-name="$name" --output json)
        mapfile -t policies < <(python3 -c "$block_policies" <<<"$listing")
    fi
    for policy in "${policies[@]}"; do
        [[ -n $policy ]] || continue
        IFS=- read -r -a keys <<<"$policy"
        for key in "${keys[@]:1}"; do
            run_aws iam update-access-key --user-name="$name" --access-key-id "$key" --status Active
        done
        run_aws iam delete-user-policy --user-name="$name" --policy-name "$policy"
    done
    report "unblocked IAM user $name; removed policies: ${policies[*]:-none}"
}

case $kind in
    iamUser|assumedRole) check_account ;;
esac

case "$kind/$action" in
    iamUser/block) block_iam_user ;;
    iamUser/unblock) unblock_iam_user ;;
    assumedRole/block)
        run_aws iam put-role-policy --role-name="$name" --policy-name TriplineRevokeSessions --policy-document "$revoke_sessions"
        report "revoked sessions of role $name issued before $requested_at"
        ;;
    assumedRole/unblock)
        run_aws iam delete-role-policy --role-name="$name" --policy-name TriplineRevokeSessions
        report "lifted the session revocation on role $name"
        ;;
    federatedUser/*)
        echo "$prog: a federated user cannot be blocked with IAM policies; block the IAM user that called sts:GetFederationToken (its sessions inherit that user's deny)" >&2
        exit 65
        ;;
    identityCenterUser/*)
        echo "$prog: an IAM Identity Center user cannot be blocked with IAM policies; disable the user in IAM Identity Center, or revoke its permission-set role sessions" >&2
        exit 65
        ;;
esac
