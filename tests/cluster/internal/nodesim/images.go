package nodesim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// imageRef is an image reference as the container runtime sees it.
type imageRef struct {
	raw      string // as written in the pod spec
	withTag  string // the kubelet's form: raw with ":latest" added when it has neither tag nor digest
	full     string // normalized like containerd: docker.io/library/nginx:1.25 (or repo@sha256:...)
	repo     string // docker.io/library/nginx
	tag      string // 1.25 ("" for a digest-only reference)
	digest   string // sha256:<hex>, given or derived from the full name
	domain   string
	pathPart string
}

// parseImage normalizes a reference the way containerd reports names. A reference without
// tag or digest gets ":latest", as the kubelet applies before pulling.
func parseImage(raw string) (*imageRef, error) {
	named, err := reference.ParseNormalizedNamed(raw)
	if err != nil {
		return nil, err
	}
	r := &imageRef{raw: raw, repo: named.Name(), domain: reference.Domain(named), pathPart: reference.Path(named)}
	_, tagged := named.(reference.Tagged)
	digested, hasDigest := named.(reference.Digested)
	r.withTag = raw
	if !tagged && !hasDigest {
		named = reference.TagNameOnly(named)
		r.withTag = raw + ":latest"
	}
	if t, ok := named.(reference.Tagged); ok {
		r.tag = t.Tag()
	}
	if hasDigest {
		r.digest = digested.Digest().String()
	}
	r.full = named.String()
	if r.digest == "" {
		sum := sha256.Sum256([]byte(r.full))
		r.digest = "sha256:" + hex.EncodeToString(sum[:])
	}
	return r, nil
}

// names are the names a node reports for the image: digest first, then the tag, as the kubelet
// lists RepoDigests before RepoTags.
func (r *imageRef) names() []string {
	n := []string{r.repo + "@" + r.digest}
	if r.tag != "" {
		n = append(n, r.repo+":"+r.tag)
	}
	return n
}

// imageID is what a container status reports as imageID.
func (r *imageRef) imageID() string { return r.repo + "@" + r.digest }

// registryHost is the host a pull of this image talks to.
func (r *imageRef) registryHost() string {
	if r.domain == "docker.io" {
		return "registry-1.docker.io"
	}
	return r.domain
}

// Pull errors, worded as containerd reports them through the CRI (the kubelet prints them as is).
func notFoundError(r *imageRef) string {
	return fmt.Sprintf("rpc error: code = NotFound desc = failed to pull and unpack image %q: failed to resolve reference %q: %s: not found",
		r.full, r.full, r.full)
}

func unauthorizedError(r *imageRef) string {
	return fmt.Sprintf("rpc error: code = Unknown desc = failed to pull and unpack image %q: failed to resolve reference %q: "+
		"pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed",
		r.full, r.full)
}

func tooManyRequestsError(r *imageRef) string {
	ref := r.tag
	if ref == "" {
		ref = r.digest
	}
	return fmt.Sprintf("rpc error: code = Unknown desc = failed to pull and unpack image %q: failed to copy: httpReadSeeker: failed open: "+
		"unexpected status code https://%s/v2/%s/manifests/%s: 429 Too Many Requests - Server message: toomanyrequests: "+
		"too many concurrent pulls, retry later", r.full, r.registryHost(), r.pathPart, ref)
}

// containerID makes a stable fake containerd ID.
func containerID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return "containerd://" + hex.EncodeToString(sum[:])
}
