#!/usr/bin/env bash
# Build the SageMaker images and push them to ECR, tagged with the git commit.
#
#   scripts/build_push_ecr.sh [training|inference|all]      (default: all)
#
# Environment: AWS_REGION (default us-east-1), MLPLATFORM_ENV (default staging),
# PROJECT (default iris), MLFLOW_VERSION (optional client pin for a managed MLflow server),
# APP_UID (optional: 0 when SageMaker's root-owned /opt/ml mounts are not writable for uid 1000).
# The ECR repositories are named <project>-<env>-<target> and must exist already (seed 002:
# Terraform's ecr module creates them, this script never does); a missing one fails before any
# build. Their tags are immutable: an image already pushed for this commit is not rebuilt, and a
# tree with uncommitted changes gets a tag of its own (<commit>-dirty-<UTC time>).
# Prints one image URI per target on stdout (everything else goes to stderr).
set -euo pipefail

target="${1:-all}"
case "$target" in
  training | inference) targets=("$target") ;;
  all) targets=(training inference) ;;
  *) echo "usage: $0 [training|inference|all]" >&2; exit 2 ;;
esac

region="${AWS_REGION:-us-east-1}"
environment="${MLPLATFORM_ENV:-staging}"
project="${PROJECT:-iris}"
root="$(cd "$(dirname "$0")/.." && pwd)"

commit="$(git -C "$root" rev-parse --short=12 HEAD)"
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
  commit="${commit}-dirty-$(date -u +%Y%m%d%H%M%S)"  # never pass off uncommitted code as a commit
fi

account="$(aws sts get-caller-identity --query Account --output text)"
registry="${account}.dkr.ecr.${region}.amazonaws.com"

for t in "${targets[@]}"; do
  repository="${project}-${environment}-${t}"
  if ! aws ecr describe-repositories --region "$region" --repository-names "$repository" >/dev/null 2>&1; then
    echo "Error: ECR repository '$repository' does not exist in $region (account $account)" >&2
    echo "  Fix: create it with Terraform (cd infra/terraform/envs/$environment && terraform apply -target=module.ecr), or set PROJECT/MLPLATFORM_ENV" >&2
    exit 1
  fi
done

aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry" >/dev/null

for t in "${targets[@]}"; do
  repository="${project}-${environment}-${t}"
  image="${registry}/${repository}:${commit}"
  pushed="$(aws ecr describe-images --region "$region" --repository-name "$repository" \
    --image-ids "imageTag=${commit}" --query 'imageDetails[0].imageDigest' --output text 2>/dev/null || true)"
  if [[ "$pushed" == sha256:* ]]; then
    echo "$image is already in ECR ($pushed): not rebuilt (tags are immutable)" >&2
    echo "$image"
    continue
  fi
  docker build --file "$root/docker/${t}.Dockerfile" \
    --build-arg "GIT_COMMIT=${commit}" \
    ${MLFLOW_VERSION:+--build-arg "MLFLOW_VERSION=${MLFLOW_VERSION}"} \
    ${APP_UID:+--build-arg "APP_UID=${APP_UID}"} \
    --tag "$image" "$root" >&2
  docker push "$image" >&2
  echo "$image"
done
