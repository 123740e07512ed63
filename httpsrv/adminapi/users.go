package adminapi

import (
	"net/http"
	"net/url"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// register fills the mux. Every route goes through handle, so a.routes
// lists them all (the OpenAPI test walks it).
func (a *api) register() {
	a.handle(http.MethodGet, Prefix+"/openapi.json", a.openAPI)

	a.handle(http.MethodGet, Prefix+"/users", a.listUsers)
	a.handle(http.MethodPost, Prefix+"/users", a.createUser)
	a.handle(http.MethodGet, Prefix+"/users/{name}", a.showUser)
	a.handle(http.MethodDelete, Prefix+"/users/{name}", a.deleteUser)
	a.handle(http.MethodPut, Prefix+"/users/{name}/password", a.setPassword)
	a.handle(http.MethodPut, Prefix+"/users/{name}/pin", a.setPIN)
	a.handle(http.MethodPut, Prefix+"/users/{name}/level", a.setLevel)
	a.handle(http.MethodPut, Prefix+"/users/{name}/attributes/{attr}", a.setAttribute)
	a.handle(http.MethodPost, Prefix+"/users/{name}/unlock", a.unlock)
	a.handle(http.MethodPost, Prefix+"/users/{name}/reset", a.resetUser)
	a.handle(http.MethodPost, Prefix+"/users/{name}/rename", a.renameUser)

	a.handle(http.MethodGet, Prefix+"/users/{name}/tokens", a.listTokens)
	a.handle(http.MethodPost, Prefix+"/users/{name}/tokens", a.enroll)
	a.handle(http.MethodPost, Prefix+"/users/{name}/tokens/{serial}/test", a.testToken)
	a.handle(http.MethodPost, Prefix+"/users/{name}/yubikeys", a.addYubiKey)
	a.handle(http.MethodPost, Prefix+"/tokens/{serial}/enable", a.enableToken)
	a.handle(http.MethodPost, Prefix+"/tokens/{serial}/disable", a.disableToken)
	a.handle(http.MethodPut, Prefix+"/tokens/{serial}/description", a.describeToken)
	a.handle(http.MethodDelete, Prefix+"/tokens/{serial}", a.deleteToken)
	a.handle(http.MethodPost, Prefix+"/tokens/{serial}/resync", a.resync)
}

// userResult answers an operation on one user.
type userResult struct {
	Result string `json:"result"`
	Name   string `json:"name"`
}

func ok(body any) reply { return reply{status: http.StatusOK, body: body} }

func userLocation(name string) string { return Prefix + "/users/" + url.PathEscape(name) }

type userList struct {
	Users []manage.UserInfo `json:"users"`
}

func (a *api) listUsers(r *http.Request) (reply, error) {
	users, err := a.manager.ListUsers(r.Context())
	if err != nil {
		return reply{}, err
	}
	return ok(userList{Users: users}), nil
}

type createUserRequest struct {
	Name     string        `json:"name"`
	Password verify.Secret `json:"password"`
}

// createUser adds a user (level off) and answers 201 with the user, as
// "otpgate user add" prints it.
func (a *api) createUser(r *http.Request) (reply, error) {
	var req createUserRequest
	if err := decode(r, &req, false); err != nil {
		return reply{}, err
	}
	if _, err := a.manager.AddUser(r.Context(), req.Name, req.Password); err != nil {
		return reply{}, err
	}
	info, err := a.manager.ShowUser(r.Context(), req.Name)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusCreated, body: info, location: userLocation(req.Name)}, nil
}

func (a *api) showUser(r *http.Request) (reply, error) {
	info, err := a.manager.ShowUser(r.Context(), r.PathValue("name"))
	if err != nil {
		return reply{}, err
	}
	return ok(info), nil
}

func (a *api) deleteUser(r *http.Request) (reply, error) {
	name := r.PathValue("name")
	if err := a.manager.DeleteUser(r.Context(), name); err != nil {
		return reply{}, err
	}
	return ok(userResult{Result: "deleted", Name: name}), nil
}

type passwordRequest struct {
	Password verify.Secret `json:"password"`
}

func (a *api) setPassword(r *http.Request) (reply, error) {
	var req passwordRequest
	if err := decode(r, &req, false); err != nil {
		return reply{}, err
	}
	name := r.PathValue("name")
	if err := a.manager.SetPassword(r.Context(), name, req.Password); err != nil {
		return reply{}, err
	}
	return ok(userResult{Result: "password set", Name: name}), nil
}

type pinRequest struct {
	PIN verify.Secret `json:"pin"`
}

// pinResult says whether the PIN was cut to the configured length.
type pinResult struct {
	Result    string `json:"result"`
	Name      string `json:"name"`
	Truncated bool   `json:"truncated"`
}

func (a *api) setPIN(r *http.Request) (reply, error) {
	var req pinRequest
	if err := decode(r, &req, false); err != nil {
		return reply{}, err
	}
	name := r.PathValue("name")
	cut, err := a.manager.SetPIN(r.Context(), name, req.PIN)
	if err != nil {
		return reply{}, err
	}
	return ok(pinResult{Result: "pin set", Name: name, Truncated: cut}), nil
}

type levelRequest struct {
	Level string `json:"level"`
}

// levelResult carries manage's warnings (never null).
type levelResult struct {
	Result   string   `json:"result"`
	Name     string   `json:"name"`
	Level    string   `json:"level"`
	Warnings []string `json:"warnings"`
}

func (a *api) setLevel(r *http.Request) (reply, error) {
	var req levelRequest
	if err := decode(r, &req, false); err != nil {
		return reply{}, err
	}
	name := r.PathValue("name")
	warnings, err := a.manager.SetLevel(r.Context(), name, req.Level)
	if err != nil {
		return reply{}, err
	}
	if warnings == nil {
		warnings = []string{}
	}
	return ok(levelResult{Result: "level set", Name: name, Level: req.Level, Warnings: warnings}), nil
}

type attributeRequest struct {
	// Values is required so that a forgotten field cannot delete the
	// attribute; [] deletes it.
	Values *[]string `json:"values"`
}

type attributeResult struct {
	Result    string   `json:"result"`
	Name      string   `json:"name"`
	Attribute string   `json:"attribute"`
	Values    []string `json:"values"`
}

func (a *api) setAttribute(r *http.Request) (reply, error) {
	var req attributeRequest
	if err := decode(r, &req, false); err != nil {
		return reply{}, err
	}
	if req.Values == nil {
		return reply{}, badRequest(`field "values" is required ([] removes the attribute)`)
	}
	name, attr := r.PathValue("name"), r.PathValue("attr")
	if err := a.manager.SetAttribute(r.Context(), name, attr, *req.Values); err != nil {
		return reply{}, err
	}
	return ok(attributeResult{Result: "attribute set", Name: name, Attribute: attr, Values: *req.Values}), nil
}

func (a *api) unlock(r *http.Request) (reply, error) {
	if err := decode(r, &struct{}{}, true); err != nil {
		return reply{}, err
	}
	name := r.PathValue("name")
	if err := a.manager.Unlock(r.Context(), name); err != nil {
		return reply{}, err
	}
	return ok(userResult{Result: "unlocked", Name: name}), nil
}

// resetUser is the password-reset path (manage.ResetUser): new password,
// level off, failures cleared.
func (a *api) resetUser(r *http.Request) (reply, error) {
	var req passwordRequest
	if err := decode(r, &req, false); err != nil {
		return reply{}, err
	}
	name := r.PathValue("name")
	if err := a.manager.ResetUser(r.Context(), name, req.Password); err != nil {
		return reply{}, err
	}
	return ok(userResult{Result: "reset (level off, new password)", Name: name}), nil
}

type renameRequest struct {
	NewName string `json:"new_name"`
}

type renameResult struct {
	Result  string `json:"result"`
	Name    string `json:"name"`
	NewName string `json:"new_name"`
}

func (a *api) renameUser(r *http.Request) (reply, error) {
	var req renameRequest
	if err := decode(r, &req, false); err != nil {
		return reply{}, err
	}
	name := r.PathValue("name")
	if err := a.manager.RenameUser(r.Context(), name, req.NewName); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: renameResult{Result: "renamed", Name: name, NewName: req.NewName},
		location: userLocation(req.NewName)}, nil
}
