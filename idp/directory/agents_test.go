package directory_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ateaidp/atea/idp/directory"
)

const agentPW = "desk agent passphrase"

func deskAgent() directory.Agent {
	return directory.Agent{Username: " Miren.Agirre ", Name: "Miren Agirre", Phone: "+34 600 000 111"}
}

// TestAgentAddGetList: AddAgent normalises and stores; duplicates and bad fields are refused;
// the agent is readable by username and ID, across a reopen, and listed.
func TestAgentAddGetList(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	if list, err := f.d.ListAgents(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListAgents(empty) = %v, %v", list, err)
	}
	if _, err := f.d.GetAgent(ctx, "nobody"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("GetAgent(no agents) = %v, want ErrNotFound", err)
	}
	a, err := f.d.AddAgent(ctx, deskAgent(), agentPW)
	if err != nil {
		t.Fatalf("AddAgent() = %v", err)
	}
	if a.Username != "miren.agirre" || a.Phone != "+34600000111" || a.Status != directory.AgentActive || !strings.HasPrefix(a.ID, "a") {
		t.Errorf("AddAgent() = %+v", a)
	}
	if _, err := f.d.AddAgent(ctx, deskAgent(), agentPW); !errors.Is(err, directory.ErrExists) {
		t.Errorf("AddAgent(dup) = %v, want ErrExists", err)
	}
	_, err = f.d.AddAgent(ctx, directory.Agent{Username: "x", Name: "", Phone: "600"}, agentPW)
	if !errors.Is(err, directory.ErrInvalid) {
		t.Fatalf("AddAgent(bad) = %v, want ErrInvalid", err)
	}
	for _, field := range []string{"username", "name", "phone"} {
		if !strings.Contains(err.Error(), "invalid "+field) {
			t.Errorf("AddAgent(bad) = %v, does not name %s", err, field)
		}
	}
	if _, err := f.d.AddAgent(ctx, directory.Agent{Username: "other", Name: "O", Phone: "+34600000222"}, "short"); !errors.Is(err, directory.ErrWeakPassword) {
		t.Errorf("AddAgent(weak) = %v, want ErrWeakPassword", err)
	}
	f.reopen(t)
	got, err := f.d.GetAgent(ctx, "MIREN.AGIRRE")
	if err != nil || got.ID != a.ID || got.Name != "Miren Agirre" {
		t.Errorf("GetAgent() = %+v, %v", got, err)
	}
	if got, err := f.d.GetAgentByID(ctx, a.ID); err != nil || got.Username != a.Username {
		t.Errorf("GetAgentByID() = %+v, %v", got, err)
	}
	if _, err := f.d.AddAgent(ctx, directory.Agent{Username: "aaa", Name: "A", Phone: "+34600000222"}, agentPW); err != nil {
		t.Fatal(err)
	}
	list, err := f.d.ListAgents(ctx)
	if err != nil || len(list) != 2 || list[0].Username != "aaa" || list[1].Username != "miren.agirre" {
		t.Errorf("ListAgents() = %+v, %v", list, err)
	}
	if strings.Contains(f.audit.String(), agentPW) {
		t.Error("audit log contains the password")
	}
}

// TestAuthenticateAgent: right and wrong passwords, unknown usernames, lockout after
// MaxFailures (3 in the fixture) even for the right password, and unlock.
func TestAuthenticateAgent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	a, err := f.d.AddAgent(ctx, deskAgent(), agentPW)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.d.AuthenticateAgent(ctx, "Miren.Agirre", agentPW); err != nil || got.ID != a.ID {
		t.Fatalf("AuthenticateAgent(right) = %+v, %v", got, err)
	}
	if _, err := f.d.AuthenticateAgent(ctx, "nobody", agentPW); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Errorf("AuthenticateAgent(unknown) = %v, want ErrInvalidCredentials", err)
	}
	if _, err := f.d.AuthenticateAgent(ctx, a.Username, strings.Repeat("x", 300)); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Errorf("AuthenticateAgent(overlong) = %v, want ErrInvalidCredentials", err)
	}
	// One failure so far; a right password resets it.
	if _, err := f.d.AuthenticateAgent(ctx, a.Username, agentPW); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.d.GetAgent(ctx, a.Username); got.Failures != 0 {
		t.Errorf("Failures after success = %d, want 0", got.Failures)
	}
	for i := range 3 {
		if _, err := f.d.AuthenticateAgent(ctx, a.Username, "wrong password"); !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Fatalf("wrong #%d = %v, want ErrInvalidCredentials", i+1, err)
		}
	}
	if got, _ := f.d.GetAgent(ctx, a.Username); got.Status != directory.AgentLocked {
		t.Fatalf("status after 3 failures = %q, want locked", got.Status)
	}
	if _, err := f.d.AuthenticateAgent(ctx, a.Username, agentPW); !errors.Is(err, directory.ErrLocked) {
		t.Errorf("AuthenticateAgent(locked, right) = %v, want ErrLocked", err)
	}
	if err := f.d.LockAgent(ctx, a.Username, "x"); !errors.Is(err, directory.ErrTransition) {
		t.Errorf("LockAgent(locked) = %v, want ErrTransition", err)
	}
	if err := f.d.UnlockAgent(ctx, a.Username); err != nil {
		t.Fatal(err)
	}
	if err := f.d.UnlockAgent(ctx, a.Username); !errors.Is(err, directory.ErrTransition) {
		t.Errorf("UnlockAgent(active) = %v, want ErrTransition", err)
	}
	if _, err := f.d.AuthenticateAgent(ctx, a.Username, agentPW); err != nil {
		t.Errorf("AuthenticateAgent after unlock = %v", err)
	}
	if err := f.d.LockAgent(ctx, a.Username, "left the office"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.d.AuthenticateAgent(ctx, a.Username, agentPW); !errors.Is(err, directory.ErrLocked) {
		t.Errorf("AuthenticateAgent(admin-locked) = %v, want ErrLocked", err)
	}
	if err := f.d.LockAgent(ctx, "nobody", ""); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("LockAgent(unknown) = %v, want ErrNotFound", err)
	}
}

// TestAgentHistory: every change of an agent and every action it records is an audit event
// with UserID "agent:<id>", in the file and on the logger.
func TestAgentHistory(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	a, err := f.d.AddAgent(ctx, deskAgent(), agentPW)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.d.AuthenticateAgent(ctx, a.Username, "wrong password")
	if err := f.d.LockAgent(ctx, a.Username, "holiday"); err != nil {
		t.Fatal(err)
	}
	if err := f.d.UnlockAgent(ctx, a.Username); err != nil {
		t.Fatal(err)
	}
	if err := f.d.RecordAgentAction(ctx, a.ID, "agent_registered_citizen", "4815****L"); err != nil {
		t.Fatal(err)
	}
	if err := f.d.RecordAgentAction(ctx, a.ID, "", ""); !errors.Is(err, directory.ErrInvalid) {
		t.Errorf("RecordAgentAction(no action) = %v, want ErrInvalid", err)
	}
	if err := f.d.RecordAgentAction(ctx, "anobody", "x", ""); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("RecordAgentAction(unknown) = %v, want ErrNotFound", err)
	}
	f.reopen(t)
	evs, err := f.d.AgentHistory(ctx, a.Username, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ev := range evs {
		names = append(names, ev.Name)
		if ev.UserID != "agent:"+a.ID || ev.User != a.Username {
			t.Errorf("event %+v does not name the agent", ev)
		}
	}
	want := "agent_added agent_password_failed agent_locked agent_unlocked agent_registered_citizen"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("AgentHistory() = %s, want %s", got, want)
	}
	if evs[len(evs)-1].Reason != "4815****L" || evs[2].Reason != "holiday" {
		t.Errorf("reasons: %+v", evs)
	}
	if last, _ := f.d.AgentHistory(ctx, a.Username, 2); len(last) != 2 || last[1].Name != "agent_registered_citizen" {
		t.Errorf("AgentHistory(2) = %+v", last)
	}
	if !strings.Contains(f.audit.String(), `"event":"agent_registered_citizen"`) {
		t.Errorf("audit log lacks the action:\n%s", f.audit.String())
	}
}
