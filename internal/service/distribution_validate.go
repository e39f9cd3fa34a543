package service

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
)

// AMI name variables Image Builder renders at distribution time.
const (
	amiVarBuildDate    = "imagebuilder:buildDate"
	amiVarBuildVersion = "imagebuilder:buildVersion"
)

// checkAMIName validates an amiDistributionConfiguration.name template:
// the model pattern (AmiNameString); {{ }} placeholders (any spacing
// inside the braces) naming only imagebuilder:buildDate or
// imagebuilder:buildVersion; outside placeholders only the characters EC2
// allows in AMI names that the pattern also allows (letters, digits, space,
// '.', '-', '_': no ':', no stray braces, no tabs or newlines); and
// {{ imagebuilder:buildDate }} at least once so every build gets a new
// name.
func checkAMIName(name string) error {
	if n := len(name); n < 1 || n > 127 {
		return fmt.Errorf("the name must be 1 to 127 characters, not %d", n)
	}
	hasDate := false
	for i := 0; i < len(name); {
		switch ch := name[i]; {
		case strings.HasPrefix(name[i:], "{{"):
			end := strings.Index(name[i+2:], "}}")
			if end < 0 {
				return fmt.Errorf("the placeholder at offset %d is not closed with }}", i)
			}
			v := name[i+2 : i+2+end]
			switch strings.Trim(v, " ") {
			case amiVarBuildDate:
				hasDate = true
			case amiVarBuildVersion:
			default:
				return fmt.Errorf("placeholder {{%s}} at offset %d is not one of {{ %s }}, {{ %s }}", v, i, amiVarBuildDate, amiVarBuildVersion)
			}
			i += 2 + end + 2
		case ch == '{' || ch == '}':
			return fmt.Errorf("%q at offset %d: braces may only form {{ placeholders }}", ch, i)
		case ch == ':':
			return fmt.Errorf("':' at offset %d: AMI names cannot contain ':' outside a placeholder", i)
		case ch == ' ' || ch == '.' || ch == '-' || ch == '_' ||
			('a' <= ch && ch <= 'z') || ('A' <= ch && ch <= 'Z') || ('0' <= ch && ch <= '9'):
			i++
		default:
			return fmt.Errorf("character %q at offset %d is not allowed; use letters, digits, spaces, '.', '-', '_' and {{ placeholders }}", rune(ch), i)
		}
	}
	if first := name[0]; first == ' ' || first == '.' {
		return fmt.Errorf("the name cannot start with %q", first)
	}
	if last := name[len(name)-1]; last == ' ' || last == '.' {
		return fmt.Errorf("the name cannot end with %q", last)
	}
	if !hasDate {
		return fmt.Errorf("the name must contain '{{ %s }}' to ensure that the name will be unique", amiVarBuildDate)
	}
	return nil
}

// checkS3BucketName validates an S3 bucket name (general purpose bucket
// rules).
func checkS3BucketName(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters", b)
	}
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if !(('a' <= ch && ch <= 'z') || ('0' <= ch && ch <= '9') || ch == '.' || ch == '-') {
			return fmt.Errorf("bucket name %q may contain only lower-case letters, digits, '.' and '-'", b)
		}
	}
	if !isLowerAlnum(b[0]) || !isLowerAlnum(b[len(b)-1]) {
		return fmt.Errorf("bucket name %q must begin and end with a letter or digit", b)
	}
	if strings.Contains(b, "..") {
		return fmt.Errorf("bucket name %q cannot contain two adjacent periods", b)
	}
	if _, err := netip.ParseAddr(b); err == nil {
		return fmt.Errorf("bucket name %q cannot be formatted as an IP address", b)
	}
	return nil
}

func isLowerAlnum(ch byte) bool { return ('a' <= ch && ch <= 'z') || ('0' <= ch && ch <= '9') }

var (
	distKMSKeyID     = regexp.MustCompile(`^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
	distKMSAlias     = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)
	distKMSARN       = regexp.MustCompile(`^arn:aws[a-z-]*:kms:([a-z0-9-]+):([0-9]{12}):(key/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})|alias/[a-zA-Z0-9/_-]{1,250})$`)
	distContainerTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	distECRRepoName  = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	distSSMReserved  = regexp.MustCompile(`(?i)^/?(?:aws|ssm)`)
)

// checkKMSKeyInRegion validates a KMS key identifier (key ID, alias name, key ARN
// or alias ARN); an ARN must be in region.
func checkKMSKeyInRegion(id, region string) error {
	if distKMSKeyID.MatchString(id) || distKMSAlias.MatchString(id) {
		return nil
	}
	m := distKMSARN.FindStringSubmatch(id)
	if m == nil {
		return fmt.Errorf("%q is not a KMS key ID, alias (alias/<name>), key ARN or alias ARN", id)
	}
	if m[1] != region {
		return fmt.Errorf("key %q is in region %s; a distribution to %s needs a key of that region", id, m[1], region)
	}
	return nil
}

// distributionOutputs names the outputs an entry declares.
func distributionOutputs(d *gen.Distribution) []string {
	var out []string
	if d.AmiDistributionConfiguration != nil {
		out = append(out, "amiDistributionConfiguration")
	}
	if d.ContainerDistributionConfiguration != nil {
		out = append(out, "containerDistributionConfiguration")
	}
	if len(d.LicenseConfigurationArns) > 0 {
		out = append(out, "licenseConfigurationArns")
	}
	if len(d.LaunchTemplateConfigurations) > 0 {
		out = append(out, "launchTemplateConfigurations")
	}
	if d.S3ExportConfiguration != nil {
		out = append(out, "s3ExportConfiguration")
	}
	if len(d.FastLaunchConfigurations) > 0 {
		out = append(out, "fastLaunchConfigurations")
	}
	if len(d.SsmParameterConfigurations) > 0 {
		out = append(out, "ssmParameterConfigurations")
	}
	return out
}

// checkDistributions validates the distributions of a configuration: at
// least one; one per region, each a configured site; every entry with an
// output; every output's own rules. account is the owner's.
func (s *Service) checkDistributions(account string, ds []gen.Distribution) error {
	if len(ds) == 0 {
		return invalidValue("distributions: at least one distribution is required")
	}
	seen := map[string]int{}
	for i := range ds {
		d := &ds[i]
		p := fmt.Sprintf("distributions[%d]", i)
		if d.Region == "" {
			return invalidValue("%s.region is required", p)
		}
		if j, dup := seen[d.Region]; dup {
			return invalidValue("%s.region: region %s already has a distribution (distributions[%d]); use one entry per region", p, d.Region, j)
		}
		seen[d.Region] = i
		if !slices.Contains(s.regions, d.Region) {
			return invalidValue("%s.region: region %q is not a site of this server; configured regions: %s", p, d.Region, strings.Join(s.regions, ", "))
		}
		if len(distributionOutputs(d)) == 0 {
			return invalidValue("%s (region %s): One or more outputs should be provided for each region in a distribution configuration (amiDistributionConfiguration, containerDistributionConfiguration, licenseConfigurationArns, launchTemplateConfigurations, s3ExportConfiguration, fastLaunchConfigurations or ssmParameterConfigurations)", p, d.Region)
		}
		if err := s.checkDistribution(account, p, d); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) checkDistribution(account, p string, d *gen.Distribution) error {
	var targets []string
	if ami := d.AmiDistributionConfiguration; ami != nil {
		ap := p + ".amiDistributionConfiguration"
		if ami.Name != "" {
			if err := checkAMIName(ami.Name); err != nil {
				return invalidValue("%s.name %q: %v", ap, ami.Name, err)
			}
		}
		if err := cfgUnique(ap+".targetAccountIds", ami.TargetAccountIds); err != nil {
			return err
		}
		targets = ami.TargetAccountIds
		if ami.KmsKeyId != "" {
			if s.keys == nil {
				return invalidValue("%s.kmsKeyId %q cannot be used: no key store is configured", ap, ami.KmsKeyId)
			}
			if err := checkKMSKeyInRegion(ami.KmsKeyId, d.Region); err != nil {
				return invalidValue("%s.kmsKeyId: %v", ap, err)
			}
		}
		if lp := ami.LaunchPermission; lp != nil {
			lpp := ap + ".launchPermission"
			for i, g := range lp.UserGroups {
				if g != "all" {
					return invalidValue("%s.userGroups[%d]: %q is not a launch permission group; the only group is \"all\" (public)", lpp, i, g)
				}
			}
			for _, l := range []struct {
				f string
				v []string
			}{{"userIds", lp.UserIds}, {"userGroups", lp.UserGroups}, {"organizationArns", lp.OrganizationArns}, {"organizationalUnitArns", lp.OrganizationalUnitArns}} {
				if err := cfgUnique(lpp+"."+l.f, l.v); err != nil {
					return err
				}
			}
		}
	}
	if cd := d.ContainerDistributionConfiguration; cd != nil {
		cp := p + ".containerDistributionConfiguration"
		tr := cd.TargetRepository
		if tr == nil {
			return invalidValue("%s.targetRepository is required", cp)
		}
		if tr.Service != gen.ContainerRepositoryServiceECR {
			return invalidValue("%s.targetRepository.service: %q must be ECR", cp, tr.Service)
		}
		if len(tr.RepositoryName) < 2 || len(tr.RepositoryName) > 256 || !distECRRepoName.MatchString(tr.RepositoryName) {
			return invalidValue("%s.targetRepository.repositoryName: %q is not a repository name (2-256 characters: lower-case letters, digits, and '.', '_', '-', '/' between them)", cp, tr.RepositoryName)
		}
		for i, tag := range cd.ContainerTags {
			if !distContainerTag.MatchString(tag) {
				return invalidValue("%s.containerTags[%d]: %q is not an image tag (up to 128 letters, digits, '_', '.', '-', not starting with '.' or '-')", cp, i, tag)
			}
		}
		if err := cfgUnique(cp+".containerTags", cd.ContainerTags); err != nil {
			return err
		}
	}
	if err := cfgUnique(p+".licenseConfigurationArns", d.LicenseConfigurationArns); err != nil {
		return err
	}
	ltSeen := map[string]int{}
	for i, lt := range d.LaunchTemplateConfigurations {
		key := lt.LaunchTemplateId + "@" + lt.AccountId
		if j, dup := ltSeen[key]; dup {
			return invalidValue("%s.launchTemplateConfigurations[%d]: launch template %s for account %q is already configured at [%d]", p, i, lt.LaunchTemplateId, lt.AccountId, j)
		}
		ltSeen[key] = i
	}
	if ex := d.S3ExportConfiguration; ex != nil {
		ep := p + ".s3ExportConfiguration"
		if ex.RoleName == "" {
			return invalidValue("%s.roleName is required", ep)
		}
		switch ex.DiskImageFormat {
		case gen.DiskImageFormatVMDK, gen.DiskImageFormatRAW, gen.DiskImageFormatVHD:
		default:
			return invalidValue("%s.diskImageFormat: %q must be VMDK, RAW or VHD", ep, ex.DiskImageFormat)
		}
		if ex.S3Bucket == "" {
			return invalidValue("%s.s3Bucket is required", ep)
		}
		if err := checkS3BucketName(ex.S3Bucket); err != nil {
			return invalidValue("%s.s3Bucket: %v", ep, err)
		}
	}
	flSeen := map[string]int{}
	for i, fl := range d.FastLaunchConfigurations {
		fp := fmt.Sprintf("%s.fastLaunchConfigurations[%d]", p, i)
		if fl.Enabled == nil {
			return invalidValue("%s.enabled is required", fp)
		}
		if j, dup := flSeen[fl.AccountId]; dup {
			return invalidValue("%s: account %q already has a fast-launch configuration at [%d]", fp, fl.AccountId, j)
		}
		flSeen[fl.AccountId] = i
		if lt := fl.LaunchTemplate; lt != nil {
			if lt.LaunchTemplateId != "" && lt.LaunchTemplateName != "" {
				return apiError(gen.CodeInvalidParameterCombination, "%s.launchTemplate: specify either launchTemplateId or launchTemplateName, not both", fp)
			}
			if lt.LaunchTemplateId == "" && lt.LaunchTemplateName == "" {
				return invalidValue("%s.launchTemplate: launchTemplateId or launchTemplateName is required", fp)
			}
		}
		if fl.MaxParallelLaunches != nil && *fl.MaxParallelLaunches < 6 {
			return invalidValue("%s.maxParallelLaunches: %d is below the minimum of 6 parallel launches", fp, *fl.MaxParallelLaunches)
		}
		if sc := fl.SnapshotConfiguration; sc != nil && sc.TargetResourceCount != nil && (*sc.TargetResourceCount < 1 || *sc.TargetResourceCount > 10000) {
			return invalidValue("%s.snapshotConfiguration.targetResourceCount: %d must be between 1 and 10000", fp, *sc.TargetResourceCount)
		}
	}
	ssmSeen := map[string]int{}
	for i, sp := range d.SsmParameterConfigurations {
		pp := fmt.Sprintf("%s.ssmParameterConfigurations[%d]", p, i)
		if sp.ParameterName == "" {
			return invalidValue("%s.parameterName is required", pp)
		}
		if distSSMReserved.MatchString(sp.ParameterName) {
			return invalidValue("%s.parameterName: %q cannot begin with aws or ssm (reserved by Parameter Store)", pp, sp.ParameterName)
		}
		if strings.Count(sp.ParameterName, "/") > 15 {
			return invalidValue("%s.parameterName: %q has more than 15 hierarchy levels", pp, sp.ParameterName)
		}
		switch sp.DataType {
		case "", gen.SsmParameterDataTypeText, gen.SsmParameterDataTypeAwsEc2Image:
		default:
			return invalidValue("%s.dataType: %q must be text or aws:ec2:image", pp, sp.DataType)
		}
		if sp.AmiAccountId != "" && sp.AmiAccountId != account && !slices.Contains(targets, sp.AmiAccountId) {
			return invalidValue("%s.amiAccountId: account %s must also be a target account of the region (amiDistributionConfiguration.targetAccountIds)", pp, sp.AmiAccountId)
		}
		key := sp.AmiAccountId + "@" + sp.ParameterName
		if j, dup := ssmSeen[key]; dup {
			return invalidValue("%s: parameter %q is already configured at [%d]", pp, sp.ParameterName, j)
		}
		ssmSeen[key] = i
	}
	return nil
}
