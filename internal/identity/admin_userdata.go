package identity

import (
	"context"
	"errors"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/userdata"
	"github.com/hallpass/hallpass/tenants"
)

// An operator's (or the tenant's backend's) side of the tenant-defined
// user data: what a creation sets (Create in admin_accounts.go), a change
// in userdata.ModeBackend, and the refusals named as the management API
// names its inputs.

// newAccountData checks a NewAccount's profile and metadata: the profile
// as the tenant's backend may set it, with every required field; each
// document bounded. The refusals name "profile/<field>", "profile",
// "public_metadata" or "private_metadata".
func newAccountData(fields userdata.Fields, in NewAccount) (*UserData, Errors) {
	d := &UserData{PublicMetadata: in.PublicMetadata, PrivateMetadata: in.PrivateMetadata}
	var bad userdata.FieldErrors
	profile, err := fields.Apply(userdata.ModeBackend, nil, in.Profile)
	if err == nil {
		d.Profile = profile
		err = fields.MissingRequired(profile)
	}
	var fe userdata.FieldErrors
	if errors.As(err, &fe) {
		bad = append(bad, fe...)
	} else if err != nil {
		return nil, Errors{&Error{Param: userdata.Profile, Code: "invalid", Message: err.Error()}}
	}
	for _, doc := range []struct {
		name string
		m    map[string]any
	}{{userdata.PublicMetadata, in.PublicMetadata}, {userdata.PrivateMetadata, in.PrivateMetadata}} {
		if doc.m == nil {
			continue
		}
		if err := userdata.CheckDocument(doc.name, doc.m); err != nil {
			bad = append(bad, err.(*userdata.FieldError))
		}
	}
	d.fill()
	return d, DataErrors(bad)
}

// DataErrors turns the refusals of a user's data (userdata.FieldErrors,
// whose Param is a profile field's name or a document's) into Errors
// naming the input: "profile/<field>" for a field, the document's name
// ("profile", "public_metadata", "private_metadata") for a whole
// document. Declared fields never take a document's name
// (userdata.ReservedNames), so the two cannot be confused.
func DataErrors(errs userdata.FieldErrors) Errors {
	if len(errs) == 0 {
		return nil
	}
	out := make(Errors, 0, len(errs))
	for _, e := range errs {
		param := e.Param
		switch param {
		case userdata.Profile, userdata.PublicMetadata, userdata.PrivateMetadata:
		default:
			param = userdata.Profile + "/" + param
		}
		out = append(out, &Error{Param: param, Code: e.Code, Message: e.Message})
	}
	return out
}

// UpdateData changes a user's profile and metadata as the tenant's backend
// or an operator (Profiles.Update in userdata.ModeBackend: audited as
// user.data.change, cached summaries dropped). A refusal is Errors naming
// each input as DataErrors does, and nothing is written; ErrUserNotFound
// if there is no such user.
func (a *UserAdmin) UpdateData(ctx context.Context, by audit.Actor, t *tenants.Tenant, userID int64, ch UserDataChange) (*UserData, error) {
	d, err := a.accounts.Profiles.Update(ctx, by, t, userID, userdata.ModeBackend, ch)
	var fe userdata.FieldErrors
	if errors.As(err, &fe) {
		return nil, DataErrors(fe)
	}
	return d, err
}

// CheckDataChange judges ch as UpdateData would, without a user: the
// documents' bounds and each profile value against the tenant's fields
// (not the profile's total size, which depends on what the user holds).
// An operation that changes more than the data calls it first, so that a
// refused value leaves everything as it was.
func CheckDataChange(t *tenants.Tenant, ch UserDataChange) error {
	var bad userdata.FieldErrors
	if ch.Profile != nil {
		_, err := t.Settings.UserFields.Apply(userdata.ModeBackend, nil, ch.Profile)
		var fe userdata.FieldErrors
		if errors.As(err, &fe) {
			for _, e := range fe {
				if e.Param != userdata.Profile {
					bad = append(bad, e)
				}
			}
		} else if err != nil {
			return err
		}
	}
	for _, doc := range []struct {
		name string
		m    map[string]any
	}{{userdata.PublicMetadata, ch.PublicMetadata}, {userdata.PrivateMetadata, ch.PrivateMetadata}} {
		if doc.m == nil {
			continue
		}
		if err := userdata.CheckDocument(doc.name, doc.m); err != nil {
			bad = append(bad, err.(*userdata.FieldError))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return DataErrors(bad)
}
