package secrets_test

import (
	"errors"
	"testing"

	"github.com/cryptovault/serverless/shared/platform/secrets"
)

func TestConnectionString(t *testing.T) {
	const (
		uri    = "mongodb+srv://vault:Pa55-do-not-log@cluster0.example.net/cryptovault?retryWrites=true"
		plain  = "mongodb://vault:Pa55-do-not-log@localhost:27017/cryptovault"
		marker = "Pa55-do-not-log"
	)
	tests := []struct {
		name    string
		secret  string
		want    string
		wantErr bool
	}{
		{name: "plain srv", secret: uri, want: uri},
		{name: "plain standard", secret: plain, want: plain},
		{name: "plain with trailing newline", secret: plain + "\n", want: plain},
		{name: "json", secret: `{"uri":"` + uri + `"}`, want: uri},
		{name: "json with extra fields", secret: `{"uri":"` + plain + `","engine":"mongo"}`, want: plain},
		{name: "bad scheme", secret: "postgres://vault:Pa55-do-not-log@db/x", wantErr: true},
		{name: "http scheme", secret: "https://vault:Pa55-do-not-log@db/x", wantErr: true},
		{name: "upper-case scheme", secret: "MONGODB://vault:Pa55-do-not-log@db/x", wantErr: true},
		{name: "no host", secret: "mongodb:///Pa55-do-not-log", wantErr: true},
		{name: "json bad scheme", secret: `{"uri":"redis://:Pa55-do-not-log@db"}`, wantErr: true},
		{name: "json without uri", secret: `{"url":"` + uri + `"}`, wantErr: true},
		{name: "broken json", secret: `{"uri":"` + uri, wantErr: true},
		{name: "empty", secret: "  ", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.srv.Put("mongo", tt.secret)
			got, err := secrets.ConnectionString(ctxT(t), e.cache, "mongo")
			if tt.wantErr {
				if !errors.Is(err, secrets.ErrInvalidSecret) || !errors.Is(err, secrets.ErrUnavailable) {
					t.Fatalf("err = %v, want ErrInvalidSecret and ErrUnavailable", err)
				}
				assertNoLeak(t, "error", err.Error(), marker)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ConnectionString = %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	t.Run("endpoint down", func(t *testing.T) {
		e := newEnv(t)
		e.srv.Put("mongo", uri)
		e.srv.SetDown(true)
		_, err := secrets.ConnectionString(ctxT(t), e.cache, "mongo")
		if !errors.Is(err, secrets.ErrUnavailable) || errors.Is(err, secrets.ErrInvalidSecret) {
			t.Fatalf("err = %v, want ErrUnavailable only", err)
		}
		assertNoLeak(t, "error", err.Error(), marker)
	})
}
