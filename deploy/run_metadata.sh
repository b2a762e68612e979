#!/usr/bin/env bash
# Put gimme-aws-mini on the cluster of kubectl's current context, as a
# DaemonSet that answers 169.254.169.254 for every pod; or remove it.
#
#   deploy/run_metadata.sh                       own credentials: the profile of
#                                                AWS_PROFILE (else default), or the
#                                                environment's AWS_ACCESS_KEY_ID...
#   deploy/run_metadata.sh --assume-role arn:aws:iam::123456789012:role/app
#   deploy/run_metadata.sh --pod-roles --base-role-arn arn:aws:iam::123456789012:role/
#                                                each pod the role its manifests name
#   deploy/run_metadata.sh --delete              remove everything it created
#   deploy/run_metadata.sh --dry-run ...         print what it would apply, apply nothing
#
# Steps: check the prerequisites (and say what is missing, changing nothing);
# build the image and load it into minikube or kind (or use --image REF);
# create the namespace, the Secret (only the chosen profile's entries of
# ~/.aws, or the environment's keys: never a whole directory, never a value
# on a command line or in the output), apply deploy/overlays/<mode> with the
# settings of this run and the components they need (tokens-required,
# pod-roles, pod-identity, config-file; kubectl apply -k), wait for the
# DaemonSet, print the checks to run from a pod.  Running it again with the same inputs changes
# nothing.
#
# Exit status: 0 done, 64 bad usage, 78 a prerequisite is missing or the AWS
# configuration cannot be shipped, otherwise the status of the failing command.
#
# Written for bash 3.2 and up (macOS's too) and POSIX tools.
set -euo pipefail

PROG=run_metadata.sh
NS=gimme-aws-mini
DS=gimme-aws-mini
SECRET=gimme-aws-mini-aws
RBAC=gimme-aws-mini		# the ClusterRole and ClusterRoleBinding of --pod-roles
CONFIG_MAP=gimme-aws-mini-config	# --config's ConfigMap (name + a hash of the file)
CONFIG_MAX=1000000		# bytes of --config: a ConfigMap holds at most 1 MiB
PRIORITY_CLASS=gimme-aws-mini-node-agent
IMAGE_NAME=gimme-aws-mini
KUBECTL_MIN_MINOR=21		# kustomize components (kubectl 1.21, kustomize v4)
ROLLOUT_TIMEOUT=${ROLLOUT_TIMEOUT:-180s}
DELETE_TIMEOUT=${DELETE_TIMEOUT:-120s}
CHECK_IMAGE=${CHECK_IMAGE:-docker.io/curlimages/curl:8.8.0}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
DEPLOY=$ROOT/deploy

usage() {
	cat <<EOF
usage: $PROG [options]
       $PROG --delete [--dry-run]

Deploy gimme-aws-mini (an EC2 instance metadata stand-in) to the cluster of
kubectl's current context as a DaemonSet that answers http://169.254.169.254
for every pod.

credentials (default: the environment's AWS_ACCESS_KEY_ID if set, else the
profile AWS_PROFILE, else default, of ~/.aws/credentials and ~/.aws/config,
or AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE):
  --profile NAME         ship this profile (and its source_profile chain) only
  --from-env             ship AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
                         AWS_SESSION_TOKEN from the environment
  --assume-role ARN      serve this role's credentials, assumed with the above
  --external-id ID       ExternalId for --assume-role

per-pod roles (assumed with the credentials above, the node's):
  --pod-roles            each pod gets the role its manifests name: its
                         annotation iam.amazonaws.com/role, else its
                         ServiceAccount's eks.amazonaws.com/role-arn, else the
                         config file's pod-identity-associations, else
                         --default-role, else none; gives the daemon read
                         access to pods, namespaces and service accounts
  --base-role-arn ARN    what a role name completes into (arn:aws:iam::
                         123456789012:role/, or with a path); with --pod-roles
                         or --ecs
  --default-role R       the role (a name or an ARN) of pods that name none
  --namespace-restrictions
                         serve a pod only the roles its namespace allows
                         (iam.amazonaws.com/allowed-roles or permitted)
  --pod-identity         also serve EKS Pod Identity on 169.254.170.23 (needs
                         --pod-roles; gives the daemon create on tokenreviews)
  --session-tags         EKS's six session tags on Pod Identity's AssumeRole
                         (needs --pod-identity; the roles' trust policies must
                         allow sts:TagSession for the credentials above)
  --cluster-name NAME    the cluster the session tags name (default: the
                         context's name when it is an EKS cluster name, or an
                         EKS cluster ARN's name, else the daemon's default,
                         gimme-aws-mini)

options:
  --ecs                  also serve ECS container credentials on 169.254.170.2
                         (not with --pod-roles: any caller may ask it)
  --config FILE          the daemon's config file (the instance, pod-identity-
                         associations, role-map, ecs-credentials), shipped as
                         the ConfigMap $CONFIG_MAP
  --tokens-required      IMDSv2 only (HttpTokens=required)
  --pod-interface PAT    the nodes' pod interface(s); repeatable (default per
                         cluster: kind veth*, minikube bridge,docker0,veth*,
                         otherwise auto: cni0 cbr0 docker0 cali* flannel*)
  --image REF            use this image (a registry the nodes can pull from)
                         instead of building one and loading it into
                         minikube or kind
  --dry-run              print the manifests it would apply; change nothing
  --delete               remove the DaemonSet (its pods remove their rules from
                         the nodes as they stop), the ClusterRole and its
                         binding, the namespace with the Secret, and the
                         PriorityClass
  -h, --help             this help

environment: ROLLOUT_TIMEOUT (180s), CONTAINER_BUILDER (docker or podman,
default: the first found), CHECK_IMAGE (the curl image of the printed check).
EOF
}

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
usage_error() { say "$*"; echo "Try '$PROG --help'." >&2; exit 64; }
die_config() { say "$*"; exit 78; }

# ---------------------------------------------------------------- options

ASSUME_ROLE=""
EXTERNAL_ID=""
PROFILE=""
FROM_ENV=0
TOKENS_REQUIRED=0
POD_INTERFACES=""
IMAGE=""
DRY_RUN=0
DELETE=0
POD_ROLES=0
BASE_ROLE_ARN=""
DEFAULT_ROLE=""
NS_RESTRICT=0
POD_IDENTITY=0
SESSION_TAGS=0
TAGS_CLUSTER=""
ECS=0
CONFIG=""

need_arg() {
	if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "option '$1' needs a value"; fi
}
while [ $# -gt 0 ]; do
	case $1 in
	--assume-role) need_arg "$@"; ASSUME_ROLE=$2; shift 2 ;;
	--assume-role=*) ASSUME_ROLE=${1#*=}; shift ;;
	--external-id) need_arg "$@"; EXTERNAL_ID=$2; shift 2 ;;
	--external-id=*) EXTERNAL_ID=${1#*=}; shift ;;
	--profile) need_arg "$@"; PROFILE=$2; shift 2 ;;
	--profile=*) PROFILE=${1#*=}; shift ;;
	--from-env) FROM_ENV=1; shift ;;
	--tokens-required) TOKENS_REQUIRED=1; shift ;;
	--pod-interface) need_arg "$@"; POD_INTERFACES="$POD_INTERFACES${POD_INTERFACES:+,}$2"; shift 2 ;;
	--pod-interface=*) POD_INTERFACES="$POD_INTERFACES${POD_INTERFACES:+,}${1#*=}"; shift ;;
	--image) need_arg "$@"; IMAGE=$2; shift 2 ;;
	--image=*) IMAGE=${1#*=}; shift ;;
	--pod-roles) POD_ROLES=1; shift ;;
	--base-role-arn) need_arg "$@"; BASE_ROLE_ARN=$2; shift 2 ;;
	--base-role-arn=*) BASE_ROLE_ARN=${1#*=}; shift ;;
	--default-role) need_arg "$@"; DEFAULT_ROLE=$2; shift 2 ;;
	--default-role=*) DEFAULT_ROLE=${1#*=}; shift ;;
	--namespace-restrictions) NS_RESTRICT=1; shift ;;
	--pod-identity) POD_IDENTITY=1; shift ;;
	--session-tags) SESSION_TAGS=1; shift ;;
	--cluster-name) need_arg "$@"; TAGS_CLUSTER=$2; shift 2 ;;
	--cluster-name=*) TAGS_CLUSTER=${1#*=}; shift ;;
	--ecs) ECS=1; shift ;;
	--config) need_arg "$@"; CONFIG=$2; shift 2 ;;
	--config=*) CONFIG=${1#*=}; shift ;;
	--dry-run) DRY_RUN=1; shift ;;
	--delete) DELETE=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage_error "unknown option '$1'" ;;
	esac
done

# Everything given goes into YAML or a ConfigMap: check its shape here, so
# that no value needs quoting and a typo is caught before anything changes.
matches() { printf '%s' "$1" | grep -Eq "$2"; }
if [ "$DELETE" -eq 1 ]; then
	if [ -n "$ASSUME_ROLE$EXTERNAL_ID$PROFILE$POD_INTERFACES$IMAGE$BASE_ROLE_ARN$DEFAULT_ROLE$CONFIG$TAGS_CLUSTER" ] ||
	   [ "$FROM_ENV$TOKENS_REQUIRED$POD_ROLES$NS_RESTRICT$POD_IDENTITY$SESSION_TAGS$ECS" != 0000000 ]; then
		usage_error "--delete takes no other option than --dry-run"
	fi
fi
if [ -n "$ASSUME_ROLE" ] &&
   ! matches "$ASSUME_ROLE" '^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$'; then
	usage_error "--assume-role: '$ASSUME_ROLE' is not a role ARN (arn:aws:iam::123456789012:role/NAME)"
fi
if [ -n "$EXTERNAL_ID" ]; then
	[ -n "$ASSUME_ROLE" ] || usage_error "--external-id needs --assume-role"
	matches "$EXTERNAL_ID" '^[A-Za-z0-9+=,.@:/_-]{2,1224}$' ||
		usage_error "--external-id: expected 2 to 1224 of A-Z a-z 0-9 + = , . @ : / _ -"
fi
if [ -n "$PROFILE" ] && ! matches "$PROFILE" '^[A-Za-z0-9_.@+=,-]{1,64}$'; then
	usage_error "--profile: '$PROFILE' is not a profile name this script handles (A-Z a-z 0-9 _ . @ + = , -)"
fi
if [ "$FROM_ENV" -eq 1 ] && [ -n "$PROFILE" ]; then
	usage_error "--from-env and --profile exclude each other"
fi
if [ -n "$POD_INTERFACES" ] &&
   ! matches "$POD_INTERFACES" '^(auto|[A-Za-z0-9_.@:-]{1,15}[*+]?)(,(auto|[A-Za-z0-9_.@:-]{1,15}[*+]?))*$'; then
	usage_error "--pod-interface: expected an interface name, a prefix with a trailing * or +, or auto"
fi
if [ -n "$IMAGE" ] && ! matches "$IMAGE" '^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$'; then
	usage_error "--image: '$IMAGE' is not an image reference"
fi
# --pod-roles' options: each names what it needs.
ROLE_ARN_RE='^arn:aws(-[a-z0-9]+)*:iam::[0-9]{12}:role/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}$'
if [ -n "$BASE_ROLE_ARN" ]; then
	[ "$POD_ROLES$ECS" != 00 ] || usage_error "--base-role-arn needs --pod-roles or --ecs"
	matches "$BASE_ROLE_ARN" '^arn:aws(-[a-z0-9]+)*:iam::[0-9]{12}:role(/[A-Za-z0-9+=,.@_-]+)*/?$' ||
		usage_error "--base-role-arn: '$BASE_ROLE_ARN' is not a role ARN prefix (arn:aws:iam::123456789012:role/, or with a path)"
	# kube2iam's form, with the slash a name follows
	case $BASE_ROLE_ARN in */) ;; *) BASE_ROLE_ARN=$BASE_ROLE_ARN/ ;; esac
fi
if [ -n "$DEFAULT_ROLE" ]; then
	[ "$POD_ROLES" -eq 1 ] || usage_error "--default-role needs --pod-roles"
	case $DEFAULT_ROLE in
	arn:*)
		matches "$DEFAULT_ROLE" "$ROLE_ARN_RE" ||
			usage_error "--default-role: '$DEFAULT_ROLE' is not a role ARN (arn:aws:iam::123456789012:role/NAME)"
		;;
	*)
		matches "$DEFAULT_ROLE" '^([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}$' ||
			usage_error "--default-role: '$DEFAULT_ROLE' is neither a role name nor a role ARN"
		[ -n "$BASE_ROLE_ARN" ] ||
			usage_error "--default-role: the name '$DEFAULT_ROLE' needs --base-role-arn (or give the role's ARN)"
		;;
	esac
fi
[ "$NS_RESTRICT" -eq 0 ] || [ "$POD_ROLES" -eq 1 ] || usage_error "--namespace-restrictions needs --pod-roles"
[ "$POD_IDENTITY" -eq 0 ] || [ "$POD_ROLES" -eq 1 ] || usage_error "--pod-identity needs --pod-roles"
[ "$SESSION_TAGS" -eq 0 ] || [ "$POD_IDENTITY" -eq 1 ] || usage_error "--session-tags needs --pod-identity"
[ -z "$TAGS_CLUSTER" ] || [ "$SESSION_TAGS" -eq 1 ] || usage_error "--cluster-name needs --session-tags"
# EKS's cluster names (the daemon checks the same)
EKS_CLUSTER_RE='^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$'
[ -z "$TAGS_CLUSTER" ] || matches "$TAGS_CLUSTER" "$EKS_CLUSTER_RE" ||
	usage_error "--cluster-name: '$TAGS_CLUSTER' is not an EKS cluster name (1 to 100 of A-Z a-z 0-9 - _, starting with a letter or digit)"
[ "$ECS" -eq 0 ] || [ "$POD_ROLES" -eq 0 ] ||
	usage_error "--ecs cannot be combined with --pod-roles: the ECS endpoint answers any caller, so a pod would get the node's identity or any role"
if [ -n "$CONFIG" ]; then
	[ -f "$CONFIG" ] && [ -r "$CONFIG" ] || usage_error "--config: '$CONFIG' is not a readable file"
	[ "$(wc -c < "$CONFIG")" -le "$CONFIG_MAX" ] ||
		usage_error "--config: '$CONFIG' is over $CONFIG_MAX bytes (what a ConfigMap holds)"
fi

# ---------------------------------------------------------------- prerequisites

MISSING=""
missing() { MISSING="$MISSING  - $*
"; }
have() { command -v "$1" >/dev/null 2>&1; }

CONTEXT=""
CLUSTER_KIND=other	# minikube, kind or other
CLUSTER_NAME=""
KUBECTL_OK=0
if ! have kubectl; then
	missing "kubectl: not found on PATH (kubectl $KUBECTL_MIN_MINOR or newer; minikube users: 'minikube kubectl' or a kubectl of your own)"
else
	ver=$(kubectl version --client -o json 2>/dev/null || true)
	minor=$(printf '%s\n' "$ver" | sed -n 's/.*"minor"[^"]*"\([0-9][0-9]*\).*/\1/p' | head -n 1)
	if [ -z "$minor" ]; then
		missing "kubectl: 'kubectl version --client -o json' gave no version"
	elif [ "$minor" -lt "$KUBECTL_MIN_MINOR" ]; then
		missing "kubectl: version 1.$minor is too old: 1.$KUBECTL_MIN_MINOR or newer is needed (kustomize components)"
	else
		KUBECTL_OK=1
	fi
fi
if [ "$KUBECTL_OK" -eq 1 ]; then
	CONTEXT=$(kubectl config current-context 2>/dev/null || true)
	if [ -z "$CONTEXT" ]; then
		# --dry-run renders offline; everything else talks to a cluster.
		if [ "$DRY_RUN" -eq 0 ]; then
			missing "a current kubectl context: none is set (kubectl config use-context NAME; minikube start; kind create cluster)"
		fi
	else
		case $CONTEXT in
		kind-*)	CLUSTER_KIND=kind; CLUSTER_NAME=${CONTEXT#kind-} ;;
		*)
			# minikube names the context after its profile, "minikube" by
			# default, and marks the cluster entry as its own.
			provider=$(kubectl config view --minify \
			    -o 'jsonpath={.clusters[0].cluster.extensions[*].extension.provider}' 2>/dev/null || true)
			if [ "$CONTEXT" = minikube ] || matches "$provider" 'minikube'; then
				CLUSTER_KIND=minikube
				CLUSTER_NAME=$CONTEXT
			fi
			;;
		esac
	fi
fi

# The session tags' cluster: kind and minikube name the cluster as the
# context; aws eks update-kubeconfig names the context by the cluster's ARN.
# In a pod the daemon cannot learn it, so the script tells it.
if [ "$SESSION_TAGS" -eq 1 ] && [ -z "$TAGS_CLUSTER" ] && [ -n "$CONTEXT" ]; then
	name=$CONTEXT
	case $CONTEXT in arn:aws*:eks:*:cluster/*) name=${CONTEXT##*:cluster/} ;; esac
	! matches "$name" "$EKS_CLUSTER_RE" || TAGS_CLUSTER=$name
fi

for f in base/kustomization.yaml base/namespace.yaml base/daemonset.yaml \
	 overlays/own-credentials/kustomization.yaml overlays/assume-role/kustomization.yaml \
	 overlays/tokens-required/kustomization.yaml overlays/pod-roles/kustomization.yaml \
	 overlays/pod-identity/kustomization.yaml overlays/config-file/kustomization.yaml; do
	[ -f "$DEPLOY/$f" ] || missing "deploy/$f: not found (run the script from a complete checkout)"
done

# Credentials: where from, and is it there?  (--delete needs none.)
CRED_FILE=${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}
CONF_FILE=${AWS_CONFIG_FILE:-$HOME/.aws/config}
CRED_SOURCE=""		# env or profile
if [ "$DELETE" -eq 0 ]; then
	if [ "$FROM_ENV" -eq 1 ] || { [ -z "$PROFILE" ] && [ -n "${AWS_ACCESS_KEY_ID:-}" ]; }; then
		CRED_SOURCE="env"
		PROFILE=${AWS_PROFILE:-default}
		matches "$PROFILE" '^[A-Za-z0-9_.@+=,-]{1,64}$' || PROFILE=default
		[ -n "${AWS_ACCESS_KEY_ID:-}" ] || missing "AWS_ACCESS_KEY_ID: not set (--from-env)"
		[ -n "${AWS_SECRET_ACCESS_KEY:-}" ] || missing "AWS_SECRET_ACCESS_KEY: not set (the environment's keys are used because AWS_ACCESS_KEY_ID is set)"
	else
		CRED_SOURCE="profile"
		if [ -z "$PROFILE" ]; then
			PROFILE=${AWS_PROFILE:-default}
			matches "$PROFILE" '^[A-Za-z0-9_.@+=,-]{1,64}$' ||
				usage_error "AWS_PROFILE: '$PROFILE' is not a profile name this script handles"
		fi
		if [ ! -r "$CRED_FILE" ] && [ ! -r "$CONF_FILE" ]; then
			missing "AWS credentials: neither $CRED_FILE nor $CONF_FILE is readable (aws configure; or --from-env with AWS_ACCESS_KEY_ID...)"
		fi
	fi
fi

# The image: given, or built here and loaded into minikube or kind.
BUILDER=""
if [ "$DELETE" -eq 0 ] && [ -z "$IMAGE" ] && [ "$DRY_RUN" -eq 0 ]; then
	case $CLUSTER_KIND in
	minikube) have minikube || missing "minikube: not found on PATH (it loads the image into the cluster; or give --image REF)" ;;
	kind) have kind || missing "kind: not found on PATH (it loads the image into the cluster; or give --image REF)" ;;
	*)
		[ -z "$CONTEXT" ] ||
			missing "--image REF: context '$CONTEXT' is neither minikube nor kind, so a locally built image cannot be loaded; build and push one the nodes can pull (podman build -f Containerfile -t REGISTRY/gimme-aws-mini:TAG . && podman push REGISTRY/gimme-aws-mini:TAG) and give --image"
		;;
	esac
	if [ -n "${CONTAINER_BUILDER:-}" ]; then
		BUILDER=$CONTAINER_BUILDER
		case $BUILDER in docker|podman) ;; *) usage_error "CONTAINER_BUILDER: expected docker or podman" ;; esac
		have "$BUILDER" || missing "$BUILDER: not found on PATH (CONTAINER_BUILDER)"
	elif have docker; then
		BUILDER=docker
	elif have podman; then
		BUILDER=podman
	else
		missing "a container builder: neither docker nor podman found on PATH (or give --image REF)"
	fi
	[ -f "$ROOT/Containerfile" ] || missing "Containerfile: not found in $ROOT"
fi

if [ -n "$MISSING" ]; then
	say "cannot go on; missing:"
	printf '%s' "$MISSING" >&2
	say "nothing was changed."
	exit 78
fi

# ---------------------------------------------------------------- --delete

# show CMD...: print a command as it would be run (--dry-run).
show() { printf '  %s\n' "$*"; }

if [ "$DELETE" -eq 1 ]; then
	if [ "$DRY_RUN" -eq 1 ]; then
		echo "# would run (context '${CONTEXT:-none}'):"
		show kubectl -n "$NS" delete daemonset "$DS" --ignore-not-found --cascade=foreground --timeout="$DELETE_TIMEOUT"
		show kubectl delete clusterrolebinding "$RBAC" --ignore-not-found
		show kubectl delete clusterrole "$RBAC" --ignore-not-found
		show kubectl delete namespace "$NS" --ignore-not-found --timeout="$DELETE_TIMEOUT"
		show kubectl delete priorityclass "$PRIORITY_CLASS" --ignore-not-found
		exit 0
	fi
	say "removing gimme-aws-mini from context '$CONTEXT'"
	# The DaemonSet first, waiting for its pods: each runs `magic-ip down`
	# (preStop) and removes its rules at SIGTERM, on its node.
	kubectl -n "$NS" delete daemonset "$DS" --ignore-not-found --cascade=foreground --timeout="$DELETE_TIMEOUT"
	# --pod-roles' API access (cluster-wide: the namespace does not take it along)
	kubectl delete clusterrolebinding "$RBAC" --ignore-not-found
	kubectl delete clusterrole "$RBAC" --ignore-not-found
	kubectl delete namespace "$NS" --ignore-not-found --timeout="$DELETE_TIMEOUT"
	kubectl delete priorityclass "$PRIORITY_CLASS" --ignore-not-found
	case $CLUSTER_KIND in
	minikube) say "done; the image stays loaded: minikube -p $CLUSTER_NAME image rm $IMAGE_NAME:TAG removes it" ;;
	kind) say "done; the image stays loaded on the kind nodes" ;;
	*) say "done" ;;
	esac
	exit 0
fi

# ---------------------------------------------------------------- work directory

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gimme-aws-mini-deploy.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
# Secret files are written here: readable by us only.
umask 077
mkdir "$WORK/aws" "$WORK/kustomize"

# ---------------------------------------------------------------- AWS files

# ini_section FILE HEADER: the lines of section [HEADER] of an AWS ini FILE
# (every occurrence, as the AWS CLI merges them), without the header, comments
# or blank lines.  HEADER is compared with inner blanks collapsed: "profile dev".
ini_section() {
	[ -r "$1" ] || return 0
	awk -v want="$2" '
		/^[ \t]*\[/ {
			h = $0
			sub(/^[ \t]*\[[ \t]*/, "", h); sub(/[ \t]*\][ \t]*([#;].*)?$/, "", h)
			gsub(/[ \t]+/, " ", h)
			insec = (h == want); next
		}
		/^[ \t]*([#;].*)?$/ { next }
		insec { print }
	' "$1"
}

# ini_get FILE HEADER KEY: the value of KEY in section [HEADER] (the last one).
ini_get() {
	ini_section "$1" "$2" | awk -v key="$3" '
		/^[ \t]/ { next }		# a nested (indented) line: not a top-level key
		{
			k = $0; sub(/[ \t]*=.*/, "", k)
			if (k == key) { v = $0; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]+$/, "", v); val = v }
		}
		END { if (val != "") print val }
	'
}

# ini_keys FILE HEADER: the top-level keys of section [HEADER].
ini_keys() {
	ini_section "$1" "$2" | awk '/^[ \t]/ { next } { k = $0; sub(/[ \t]*=.*/, "", k); print k }'
}

# The config file's header of a profile: [default] or [profile NAME].
conf_header() {
	if [ "$1" = default ] && [ -n "$(ini_section "$CONF_FILE" default)" ]; then
		echo default
	else
		echo "profile $1"
	fi
}

CHAIN=""		# the profiles shipped, in chain order
if [ "$CRED_SOURCE" = profile ]; then
	p=$PROFILE
	while [ -n "$p" ]; do
		matches "$p" '^[A-Za-z0-9_.@+=,-]{1,64}$' ||
			die_config "$CONF_FILE: source_profile '$p' is not a profile name this script handles"
		case " $CHAIN " in
		*" $p "*) die_config "$CONF_FILE: source_profile loop: $CHAIN $p" ;;
		esac
		ch=$(conf_header "$p")
		in_cred=$(ini_section "$CRED_FILE" "$p")
		in_conf=$(ini_section "$CONF_FILE" "$ch")
		if [ -z "$in_cred" ] && [ -z "$in_conf" ]; then
			if [ -z "$CHAIN" ]; then
				die_config "profile '$p' is in neither $CRED_FILE nor $CONF_FILE (--profile NAME or AWS_PROFILE picks another)"
			fi
			die_config "profile '$p' (source_profile of '${CHAIN##* }') is in neither $CRED_FILE nor $CONF_FILE"
		fi
		# What a pod on another machine cannot do: run a local program,
		# open a browser, ask for an MFA code, read this machine's files.
		for k in $(ini_keys "$CRED_FILE" "$p") $(ini_keys "$CONF_FILE" "$ch"); do
			case $k in
			credential_process|sso_*|credential_source|mfa_serial|web_identity_token_file)
				die_config "profile '$p' uses $k, which cannot work inside the cluster; export its temporary credentials and ship those instead:
    eval \"\$(aws configure export-credentials --profile $p --format env)\" && $0 --from-env${ASSUME_ROLE:+ --assume-role $ASSUME_ROLE}"
				;;
			esac
		done
		CHAIN="$CHAIN${CHAIN:+ }$p"
		p=$(ini_get "$CONF_FILE" "$ch" source_profile)
	done
	# Only these profiles' sections, nothing else of the files.
	: > "$WORK/aws/credentials"
	: > "$WORK/aws/config"
	for p in $CHAIN; do
		body=$(ini_section "$CRED_FILE" "$p")
		[ -z "$body" ] || printf '[%s]\n%s\n\n' "$p" "$body" >> "$WORK/aws/credentials"
		ch=$(conf_header "$p")
		body=$(ini_section "$CONF_FILE" "$ch")
		[ -z "$body" ] || printf '[%s]\n%s\n\n' "$ch" "$body" >> "$WORK/aws/config"
	done
	case $CHAIN in
	*" "*) SOURCE_DESC="profile '$PROFILE' of $CRED_FILE / $CONF_FILE, with its source_profile chain: ${CHAIN// / -> }" ;;
	*) SOURCE_DESC="profile '$PROFILE' of $CRED_FILE / $CONF_FILE" ;;
	esac
else
	# printf is a shell builtin: the values reach the file, no command line.
	{
		printf '[%s]\n' "$PROFILE"
		printf 'aws_access_key_id = %s\n' "$AWS_ACCESS_KEY_ID"
		printf 'aws_secret_access_key = %s\n' "$AWS_SECRET_ACCESS_KEY"
		if [ -n "${AWS_SESSION_TOKEN:-}" ]; then
			printf 'aws_session_token = %s\n' "$AWS_SESSION_TOKEN"
		fi
	} > "$WORK/aws/credentials"
	region=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
	if [ -n "$region" ]; then
		if [ "$PROFILE" = default ]; then
			printf '[default]\nregion = %s\n' "$region"
		else
			printf '[profile %s]\nregion = %s\n' "$PROFILE" "$region"
		fi > "$WORK/aws/config"
	else
		: > "$WORK/aws/config"
	fi
	SOURCE_DESC="the environment's AWS_ACCESS_KEY_ID${AWS_SESSION_TOKEN:+ with its session token} (as profile '$PROFILE')"
	if [ -n "${AWS_SESSION_TOKEN:-}" ]; then
		say "note: session credentials from the environment expire${AWS_CREDENTIAL_EXPIRATION:+ at $AWS_CREDENTIAL_EXPIRATION}; run this again with fresh ones to replace them"
	fi
fi

# ---------------------------------------------------------------- settings

if [ -z "$POD_INTERFACES" ]; then
	case $CLUSTER_KIND in
	# kindnet: one veth per pod, no bridge
	kind) POD_INTERFACES='veth*' ;;
	# bridge CNI "bridge" (docker runtime, Kubernetes >= 1.24; VM drivers),
	# docker0 (docker runtime before 1.24), kindnet veth* (containerd or
	# cri-o on the docker and podman drivers, multi-node)
	minikube) POD_INTERFACES='bridge,docker0,veth*' ;;
	# cni0 (flannel, k3s), cbr0, docker0, cali* (calico), flannel*
	*) POD_INTERFACES=auto ;;
	esac
fi

if [ -n "$ASSUME_ROLE" ]; then
	MODE=assume-role
	ROLE=${ASSUME_ROLE##*/}
else
	MODE=own-credentials
	ROLE=$PROFILE
fi
# The components of this run (pod-identity is pod-roles with create on
# tokenreviews: it includes pod-roles).
ROLES_COMPONENT=pod-roles
[ "$POD_IDENTITY" -eq 0 ] || ROLES_COMPONENT=pod-identity
COMPONENTS=""
for c in "tokens-required:$TOKENS_REQUIRED" "$ROLES_COMPONENT:$POD_ROLES" "config-file:${CONFIG:+1}"; do
	[ "${c##*:}" != 1 ] || COMPONENTS="$COMPONENTS ${c%%:*}"
done

# The image: a tag from the build inputs' contents, so that an unchanged tree
# gives the same tag (nothing rolls) and a changed one a new tag (it rolls).
sha256() {
	if have sha256sum; then sha256sum | cut -c1-64
	elif have shasum; then shasum -a 256 | cut -c1-64
	else openssl dgst -sha256 | sed 's/.*= *//'
	fi
}
if [ -n "$IMAGE" ]; then
	case $IMAGE in
	*@*) IMG_NAME=${IMAGE%%@*}; IMG_DIGEST=${IMAGE#*@}; IMG_TAG="" ;;
	*)
		last=${IMAGE##*/}
		case $last in
		*:*) IMG_NAME=${IMAGE%:*}; IMG_TAG=${IMAGE##*:} ;;
		*) IMG_NAME=$IMAGE; IMG_TAG=latest ;;
		esac
		IMG_DIGEST=""
		;;
	esac
else
	IMG_TAG=0.1.0-$(cd "$ROOT" && cat Containerfile Makefile scripts/deps.sh \
	    scripts/runtime-packages.sh $(find src -type f | LC_ALL=C sort) | sha256 | cut -c1-12)
	IMG_NAME=$IMAGE_NAME
	IMG_DIGEST=""
	IMAGE=$IMG_NAME:$IMG_TAG
fi

# The kustomization of this run: the mode's overlay, the tokens component,
# the image and this run's settings, merged into the settings ConfigMap.
# kustomize refuses absolute paths here: a relative path from $WORK.
up=$(cd "$WORK/kustomize" && pwd -P | sed 's#[^/][^/]*#..#g; s#^/##')
# kustomize reads a generator's files from beside the kustomization only
[ -z "$CONFIG" ] || cat "$CONFIG" > "$WORK/kustomize/config.json"
REL=$up$DEPLOY
{
	echo "# generated by deploy/run_metadata.sh"
	echo "apiVersion: kustomize.config.k8s.io/v1beta1"
	echo "kind: Kustomization"
	echo "resources:"
	echo "  - $REL/overlays/$MODE"
	if [ -n "$COMPONENTS" ]; then
		echo "components:"
		for c in $COMPONENTS; do echo "  - $REL/overlays/$c"; done
	fi
	echo "images:"
	echo "  - name: $IMAGE_NAME"
	echo "    newName: '$IMG_NAME'"
	[ -z "$IMG_TAG" ] || echo "    newTag: '$IMG_TAG'"
	[ -z "$IMG_DIGEST" ] || echo "    digest: '$IMG_DIGEST'"
	echo "configMapGenerator:"
	echo "  - name: gimme-aws-mini"
	echo "    namespace: $NS"
	echo "    behavior: merge"
	echo "    literals:"
	echo "      - 'GIMME_PROFILE=$PROFILE'"
	echo "      - 'GIMME_POD_INTERFACE=$POD_INTERFACES'"
	[ -z "$ASSUME_ROLE" ] || echo "      - 'GIMME_ASSUME_ROLE=$ASSUME_ROLE'"
	[ -z "$EXTERNAL_ID" ] || echo "      - 'GIMME_EXTERNAL_ID=$EXTERNAL_ID'"
	[ -z "$BASE_ROLE_ARN" ] || echo "      - 'GIMME_BASE_ROLE_ARN=$BASE_ROLE_ARN'"
	[ -z "$DEFAULT_ROLE" ] || echo "      - 'GIMME_DEFAULT_ROLE=$DEFAULT_ROLE'"
	[ "$NS_RESTRICT" -eq 0 ] || echo "      - 'GIMME_NAMESPACE_RESTRICTIONS=1'"
	[ "$SESSION_TAGS" -eq 0 ] || echo "      - 'GIMME_SESSION_TAGS=1'"
	[ -z "$TAGS_CLUSTER" ] || echo "      - 'GIMME_CLUSTER_NAME=$TAGS_CLUSTER'"
	[ "$ECS" -eq 0 ] || echo "      - 'GIMME_ECS=1'"
	if [ -n "$CONFIG" ]; then
		echo "  - name: $CONFIG_MAP"
		echo "    namespace: $NS"
		echo "    options:"
		echo "      labels:"
		echo "        app.kubernetes.io/name: gimme-aws-mini"
		echo "    files:"
		echo "      - config.json"
	fi
} > "$WORK/kustomize/kustomization.yaml"

# ---------------------------------------------------------------- --dry-run

secret_note() {
	echo "# Secret $NS/$SECRET (values not shown): keys credentials and config,"
	echo "# holding only $SOURCE_DESC"
}

if [ "$DRY_RUN" -eq 1 ]; then
	say "dry run: nothing is built, loaded or applied (context '${CONTEXT:-none}', $CLUSTER_KIND)"
	secret_note
	echo "# image: $IMAGE"
	kubectl kustomize "$WORK/kustomize"
	exit 0
fi

# ---------------------------------------------------------------- image

say "context '$CONTEXT' ($CLUSTER_KIND), mode $MODE, image $IMAGE"
if [ -n "$BUILDER" ]; then
	if "$BUILDER" image inspect "$IMAGE" >/dev/null 2>&1; then
		say "image $IMAGE: already built"
	else
		say "building $IMAGE with $BUILDER"
		"$BUILDER" build -f "$ROOT/Containerfile" -t "$IMAGE" "$ROOT"
	fi
	say "loading $IMAGE into $CLUSTER_KIND '$CLUSTER_NAME'"
	if [ "$BUILDER" = docker ]; then
		case $CLUSTER_KIND in
		minikube) minikube -p "$CLUSTER_NAME" image load "$IMAGE" ;;
		kind) kind load docker-image "$IMAGE" --name "$CLUSTER_NAME" ;;
		esac
	else
		podman save -o "$WORK/image.tar" "$IMAGE"
		case $CLUSTER_KIND in
		minikube) minikube -p "$CLUSTER_NAME" image load "$WORK/image.tar" ;;
		kind) kind load image-archive "$WORK/image.tar" --name "$CLUSTER_NAME" ;;
		esac
	fi
fi

# ---------------------------------------------------------------- apply

# The namespace first: the Secret goes into it before any pod needs it.
kubectl apply -f "$DEPLOY/base/namespace.yaml"

say "Secret $SECRET from $SOURCE_DESC (values not shown)"
# The values travel in files and through the pipe, never on a command line.
kubectl -n "$NS" create secret generic "$SECRET" \
	--from-file=credentials="$WORK/aws/credentials" \
	--from-file=config="$WORK/aws/config" \
	--dry-run=client -o yaml | kubectl apply -f -

kubectl apply -k "$WORK/kustomize"

# Without --pod-roles the daemon needs no API access: take back what an
# earlier --pod-roles run granted (apply never deletes).  Exactly what is
# there, so that a run without it, again, changes nothing.
if [ "$POD_ROLES" -eq 0 ]; then
	if ! rbac=$(kubectl get "clusterrolebinding/$RBAC" "clusterrole/$RBAC" --ignore-not-found -o name); then
		say "note: could not look for the ClusterRole $RBAC of an earlier --pod-roles run; 'kubectl delete clusterrolebinding/$RBAC clusterrole/$RBAC --ignore-not-found' removes it"
		rbac=""
	fi
	if [ -n "$rbac" ]; then
		say "per-pod roles are off: removing the API access of an earlier --pod-roles run"
		kubectl delete $rbac --ignore-not-found
	fi
fi

say "waiting for the DaemonSet (up to $ROLLOUT_TIMEOUT): ready once credentials are loaded and the rules installed"
if ! kubectl -n "$NS" rollout status "daemonset/$DS" --timeout="$ROLLOUT_TIMEOUT"; then
	say "the DaemonSet is not ready; to see why:"
	echo "  kubectl -n $NS get pods -o wide" >&2
	echo "  kubectl -n $NS logs daemonset/$DS" >&2
	echo "  kubectl -n $NS describe daemonset $DS" >&2
	exit 1
fi

# ---------------------------------------------------------------- checks

MD=http://169.254.169.254/latest/meta-data
SERVES="mode $MODE, role '$ROLE'${ASSUME_ROLE:+ = $ASSUME_ROLE}"
# with --pod-roles that role is the node's (its processes, hostNetwork pods)
[ "$POD_ROLES" -eq 0 ] || SERVES="$SERVES for the node"
[ "$TOKENS_REQUIRED" -eq 0 ] || SERVES="$SERVES, IMDSv2 tokens required"
[ "$ECS" -eq 0 ] || SERVES="$SERVES, ECS on 169.254.170.2"
CHECK_RUN="kubectl run imds-check --rm -i --tty --restart=Never --image=$CHECK_IMAGE"
if [ "$POD_ROLES" -eq 1 ]; then
	SERVES="$SERVES;
per-pod roles, default role ${DEFAULT_ROLE:-none}${BASE_ROLE_ARN:+, names completed by $BASE_ROLE_ARN}"
	[ "$NS_RESTRICT" -eq 0 ] || SERVES="$SERVES, namespace restrictions"
	[ "$POD_IDENTITY" -eq 0 ] || SERVES="$SERVES, Pod Identity on 169.254.170.23"
	[ "$SESSION_TAGS" -eq 0 ] || SERVES="$SERVES with session tags (cluster ${TAGS_CLUSTER:-gimme-aws-mini})"
	if [ -n "$DEFAULT_ROLE" ]; then
		ROLE=${DEFAULT_ROLE##*/}	# what a pod that names no role gets
	else
		ROLE=ROLE
		CHECK_RUN="$CHECK_RUN --annotations=iam.amazonaws.com/role=ROLE"
	fi
fi
cat <<EOF

gimme-aws-mini serves 169.254.169.254 on every node of '$CONTEXT'
($SERVES).

Check from a pod:

  $CHECK_RUN --command -- sh

EOF
if [ "$ROLE" = ROLE ]; then
	echo "(ROLE: the role the pod is to get, ${BASE_ROLE_ARN:+its name or }its ARN) and in it:"
else
	echo "and in it:"
fi
echo
if [ "$TOKENS_REQUIRED" -eq 1 ]; then
	cat <<EOF
  TOKEN=\$(curl -s -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
  curl -H "X-aws-ec2-metadata-token: \$TOKEN" $MD/local-ipv4
  curl -H "X-aws-ec2-metadata-token: \$TOKEN" $MD/local-hostname
  curl -H "X-aws-ec2-metadata-token: \$TOKEN" $MD/iam/security-credentials/
  curl -H "X-aws-ec2-metadata-token: \$TOKEN" $MD/iam/security-credentials/$ROLE
EOF
else
	cat <<EOF
  curl $MD/local-ipv4
  curl $MD/local-hostname
  curl $MD/iam/security-credentials/
  curl $MD/iam/security-credentials/$ROLE
EOF
fi
if [ "$POD_ROLES" -eq 1 ]; then
	cat <<EOF

(the last one prints the credentials of that pod's role). Each pod of a node,
its addresses, its role, where the role came from and when its credentials
expire, from that node's gimme-aws-mini pod (POD):

  kubectl -n $NS get pods -o wide
  kubectl -n $NS exec POD -- gimme-aws-mini ctl pods

Remove it all with:

  $0 --delete
EOF
else
	cat <<EOF

(the last one prints the credentials the pods get). Remove it all with:

  $0 --delete
EOF
fi
