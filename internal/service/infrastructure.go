package service

import (
	"context"
	"regexp"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

var (
	infraSecurityGroupID = regexp.MustCompile(`^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$`)
	infraSubnetID        = regexp.MustCompile(`^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$`)
	infraHostID          = regexp.MustCompile(`^h-[0-9a-f]{17}$`)
	infraHostGroupARN    = regexp.MustCompile(`^arn:aws[a-z-]*:resource-groups:([a-z0-9-]+):[0-9]{12}:group/[A-Za-z0-9_.-]{1,128}$`)
	infraSNSTopicRegion  = regexp.MustCompile(`^arn:aws[^:]*:sns:([^:]+):[0-9]{12}:`)
	infraKeyPairName     = regexp.MustCompile(`^[\x20-\x7e]+$`)
)

// infrastructureBody builds the stored body (gen.InfrastructureConfiguration,
// Tags left empty) from the members Create and Update share, after checking
// the rules the model cannot express.
func infrastructureBody(c Caller, arn, name string, in *gen.UpdateInfrastructureConfigurationRequest) (*gen.InfrastructureConfiguration, error) {
	if err := checkInstanceTypes(in.InstanceTypes); err != nil {
		return nil, err
	}
	for i, id := range in.SecurityGroupIds {
		if !infraSecurityGroupID.MatchString(id) {
			return nil, invalidValue("securityGroupIds[%d]: %q is not a security group ID (sg- and 8 or 17 hex digits)", i, id)
		}
	}
	if err := cfgUnique("securityGroupIds", in.SecurityGroupIds); err != nil {
		return nil, err
	}
	if in.SubnetId != "" {
		if !infraSubnetID.MatchString(in.SubnetId) {
			return nil, invalidValue("subnetId: %q is not a subnet ID (subnet- and 8 or 17 hex digits)", in.SubnetId)
		}
		if len(in.SecurityGroupIds) == 0 {
			return nil, invalidValue("subnetId %q needs securityGroupIds: instances placed in a subnet need security groups of its VPC", in.SubnetId)
		}
	}
	if in.KeyPair != "" && (len(in.KeyPair) > 255 || !infraKeyPairName.MatchString(in.KeyPair)) {
		return nil, invalidValue("keyPair: %q is not a key pair name (1-255 printable ASCII characters)", in.KeyPair)
	}
	if err := checkLogging(in.Logging); err != nil {
		return nil, err
	}
	if in.SnsTopicArn != "" {
		if m := infraSNSTopicRegion.FindStringSubmatch(in.SnsTopicArn); m != nil && m[1] != c.Region {
			return nil, invalidValue("snsTopicArn: topic %q is in region %s; notifications go to a topic in the configuration's region %s", in.SnsTopicArn, m[1], c.Region)
		}
	}
	if err := checkMetadataOptions(in.InstanceMetadataOptions); err != nil {
		return nil, err
	}
	if err := checkPlacement(c, in.Placement); err != nil {
		return nil, err
	}
	terminate := true // the service default
	if in.TerminateInstanceOnFailure != nil {
		terminate = *in.TerminateInstanceOnFailure
	}
	return &gen.InfrastructureConfiguration{
		Arn: arn, Name: name, Description: in.Description, InstanceTypes: in.InstanceTypes,
		InstanceProfileName: in.InstanceProfileName, SecurityGroupIds: in.SecurityGroupIds, SubnetId: in.SubnetId,
		Logging: in.Logging, KeyPair: in.KeyPair, TerminateInstanceOnFailure: &terminate, SnsTopicArn: in.SnsTopicArn,
		ResourceTags: in.ResourceTags, InstanceMetadataOptions: in.InstanceMetadataOptions, Placement: in.Placement,
	}, nil
}

func checkLogging(l *gen.Logging) error {
	if l == nil || l.S3Logs == nil {
		return nil
	}
	if l.S3Logs.S3BucketName == "" {
		return invalidValue("logging.s3Logs.s3BucketName is required when logging.s3Logs is given")
	}
	if err := checkS3BucketName(l.S3Logs.S3BucketName); err != nil {
		return invalidValue("logging.s3Logs.s3BucketName: %v", err)
	}
	return nil
}

func checkMetadataOptions(o *gen.InstanceMetadataOptions) error {
	if o == nil {
		return nil
	}
	if o.HttpTokens != "" && o.HttpTokens != "optional" && o.HttpTokens != "required" {
		return invalidValue("instanceMetadataOptions.httpTokens: %q must be optional or required", o.HttpTokens)
	}
	if o.HttpPutResponseHopLimit != nil && (*o.HttpPutResponseHopLimit < 1 || *o.HttpPutResponseHopLimit > 64) {
		return invalidValue("instanceMetadataOptions.httpPutResponseHopLimit: %d must be between 1 and 64", *o.HttpPutResponseHopLimit)
	}
	return nil
}

func checkPlacement(c Caller, p *gen.Placement) error {
	if p == nil {
		return nil
	}
	if p.AvailabilityZone != "" {
		if !regexp.MustCompile(`^` + regexp.QuoteMeta(c.Region) + `[a-z]$`).MatchString(p.AvailabilityZone) {
			return invalidValue("placement.availabilityZone: %q is not an Availability Zone of region %s (e.g. %sa)", p.AvailabilityZone, c.Region, c.Region)
		}
	}
	switch p.Tenancy {
	case "", gen.TenancyTypeDefault, gen.TenancyTypeDedicated, gen.TenancyTypeHost:
	default:
		return invalidValue("placement.tenancy: %q must be default, dedicated or host", p.Tenancy)
	}
	if p.HostId != "" || p.HostResourceGroupArn != "" {
		if p.Tenancy != gen.TenancyTypeHost {
			return invalidValue("placement: hostId and hostResourceGroupArn apply only with tenancy host (tenancy is %q)", p.Tenancy)
		}
		if p.HostId != "" && p.HostResourceGroupArn != "" {
			return invalidValue("placement: specify either hostId or hostResourceGroupArn, not both")
		}
	}
	if p.HostId != "" && !infraHostID.MatchString(p.HostId) {
		return invalidValue("placement.hostId: %q is not a Dedicated Host ID (h- and 17 hex digits)", p.HostId)
	}
	if p.HostResourceGroupArn != "" {
		m := infraHostGroupARN.FindStringSubmatch(p.HostResourceGroupArn)
		if m == nil {
			return invalidValue("placement.hostResourceGroupArn: %q is not a resource group ARN (arn:aws:resource-groups:<region>:<account>:group/<name>)", p.HostResourceGroupArn)
		}
		if m[1] != c.Region {
			return invalidValue("placement.hostResourceGroupArn: %q is in region %s, not %s", p.HostResourceGroupArn, m[1], c.Region)
		}
	}
	return nil
}

// CreateInfrastructureConfiguration stores a new infrastructure
// configuration.
func (s *Service) CreateInfrastructureConfiguration(ctx context.Context, in *gen.CreateInfrastructureConfigurationRequest) (*gen.CreateInfrastructureConfigurationResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	arn := cfgARN(c, kindInfrastructure, in.Name)
	body, err := infrastructureBody(c, arn, in.Name, &gen.UpdateInfrastructureConfigurationRequest{
		Description: in.Description, InstanceTypes: in.InstanceTypes, InstanceProfileName: in.InstanceProfileName,
		SecurityGroupIds: in.SecurityGroupIds, SubnetId: in.SubnetId, Logging: in.Logging, KeyPair: in.KeyPair,
		TerminateInstanceOnFailure: in.TerminateInstanceOnFailure, SnsTopicArn: in.SnsTopicArn,
		ResourceTags: in.ResourceTags, InstanceMetadataOptions: in.InstanceMetadataOptions, Placement: in.Placement,
	})
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	body.DateCreated = timestamp(now)
	b, err := cfgMarshal(kindInfrastructure, body)
	if err != nil {
		return nil, err
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		return cfgInsert(ctx, tx, &store.Resource{ARN: arn, Kind: kindInfrastructure, Account: c.Account,
			Name: Slug(in.Name), Created: now, Updated: now, Body: b, Tags: in.Tags}, in.Name)
	})
	if err != nil {
		return nil, err
	}
	return &gen.CreateInfrastructureConfigurationResponse{InfrastructureConfigurationArn: arn}, nil
}

// UpdateInfrastructureConfiguration replaces an infrastructure
// configuration's settings (members left out are cleared, as AWS does);
// the name, tags and dateCreated stay.
func (s *Service) UpdateInfrastructureConfiguration(ctx context.Context, in *gen.UpdateInfrastructureConfigurationRequest) (*gen.UpdateInfrastructureConfigurationResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	arn := in.InfrastructureConfigurationArn
	err = s.st.Update(ctx, func(tx store.Tx) error {
		r, err := s.ownedResource(ctx, tx, c, kindInfrastructure, arn)
		if err != nil {
			return err
		}
		prev, err := decodeInfrastructure(r)
		if err != nil {
			return err
		}
		body, err := infrastructureBody(c, r.ARN, prev.Name, in)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		body.DateCreated = prev.DateCreated
		body.DateUpdated = timestamp(now)
		if r.Body, err = cfgMarshal(kindInfrastructure, body); err != nil {
			return err
		}
		r.Updated = now
		return tx.Replace(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return &gen.UpdateInfrastructureConfigurationResponse{InfrastructureConfigurationArn: arn}, nil
}

// decodeInfrastructure returns the stored body of an infrastructure
// configuration.
func decodeInfrastructure(r *store.Resource) (*gen.InfrastructureConfiguration, error) {
	return decodeAs[gen.InfrastructureConfiguration](r)
}

// GetInfrastructureConfiguration returns an infrastructure configuration.
func (s *Service) GetInfrastructureConfiguration(ctx context.Context, in *gen.GetInfrastructureConfigurationRequest) (*gen.GetInfrastructureConfigurationResponse, error) {
	ic, r, err := cfgView[gen.InfrastructureConfiguration](ctx, s, kindInfrastructure, in.InfrastructureConfigurationArn)
	if err != nil {
		return nil, err
	}
	ic.Tags = r.Tags
	return &gen.GetInfrastructureConfigurationResponse{InfrastructureConfiguration: ic}, nil
}

// ListInfrastructureConfigurations lists the caller's infrastructure
// configurations in the region (filter: name).
func (s *Service) ListInfrastructureConfigurations(ctx context.Context, in *gen.ListInfrastructureConfigurationsRequest) (*gen.ListInfrastructureConfigurationsResponse, error) {
	filters, err := newFilterSet(in.Filters, "name")
	if err != nil {
		return nil, err
	}
	items, next, err := listPage(ctx, s, kindInfrastructure, gen.OwnershipSelf, func(ic *gen.InfrastructureConfiguration, r *store.Resource) bool {
		return filters.match("name", ic.Name, r.Name)
	}, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := &gen.ListInfrastructureConfigurationsResponse{NextToken: next}
	for _, it := range items {
		ic := it.Body
		out.InfrastructureConfigurationSummaryList = append(out.InfrastructureConfigurationSummaryList, gen.InfrastructureConfigurationSummary{
			Arn: it.R.ARN, Name: ic.Name, Description: ic.Description, DateCreated: ic.DateCreated, DateUpdated: ic.DateUpdated,
			ResourceTags: ic.ResourceTags, Tags: it.R.Tags, InstanceTypes: ic.InstanceTypes,
			InstanceProfileName: ic.InstanceProfileName, Placement: ic.Placement,
		})
	}
	return out, nil
}

// DeleteInfrastructureConfiguration deletes an infrastructure configuration
// no pipeline or image references.
func (s *Service) DeleteInfrastructureConfiguration(ctx context.Context, in *gen.DeleteInfrastructureConfigurationRequest) (*gen.DeleteInfrastructureConfigurationResponse, error) {
	if err := s.cfgDelete(ctx, kindInfrastructure, in.InfrastructureConfigurationArn); err != nil {
		return nil, err
	}
	return &gen.DeleteInfrastructureConfigurationResponse{InfrastructureConfigurationArn: in.InfrastructureConfigurationArn}, nil
}
