package config

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

const testToken = "0123456789abcdef-token"

func problems(c Admin) map[string]string {
	out := map[string]string{}
	c.Validate(func(key string, err error) { out[key] = err.Error() })
	return out
}

func TestValidateRequiresATokenOffLoopback(t *testing.T) {
	for _, tc := range []struct {
		cfg     Admin
		wantKey string // "" for valid
		wantMsg string
	}{
		{DefaultAdmin(), "", ""},
		{Admin{Listen: ""}, "", ""},
		{Admin{Listen: "[::1]:9167"}, "", ""},
		{Admin{Listen: "127.0.0.2:9167"}, "", ""},
		{Admin{Listen: "0.0.0.0:9167"}, "token", "reachable from other hosts"},
		{Admin{Listen: "198.18.0.1:9167"}, "token", "openssl rand"},
		{Admin{Listen: "[::]:9167"}, "token", "required"},
		{Admin{Listen: "0.0.0.0:9167", Token: testToken}, "", ""},
		{Admin{Listen: "127.0.0.1:9167", Token: "short"}, "token", "at least 16"},
		{Admin{Listen: "0.0.0.0:9167", Token: "has a space in it somewhere"}, "token", "spaces"},
		{Admin{Listen: "localhost:9167", Token: testToken}, "listen", "give an IP address"},
	} {
		got := problems(tc.cfg)
		if tc.wantKey == "" {
			if len(got) > 0 {
				t.Errorf("%+v: unexpected problems %v", tc.cfg, got)
			}
			continue
		}
		if msg, ok := got[tc.wantKey]; !ok || !strings.Contains(msg, tc.wantMsg) {
			t.Errorf("%+v: problems %v, want %s containing %q", tc.cfg, got, tc.wantKey, tc.wantMsg)
		}
	}
}

func TestTokenIsNotPrinted(t *testing.T) {
	c := Admin{Listen: "0.0.0.0:9167", Token: testToken}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		t.Fatal(err)
	}
	printed := buf.String() + fmt.Sprintf("%v %+v %s", c, c, c.Token)
	if strings.Contains(printed, testToken) {
		t.Fatalf("the token shows: %s", printed)
	}
	if !strings.Contains(buf.String(), `token = "(hidden)"`) {
		t.Errorf("the encoded configuration does not say a token is set:\n%s", buf.String())
	}
	var back Admin
	if _, err := toml.Decode("listen = \"0.0.0.0:1\"\ntoken = \""+testToken+"\"\n", &back); err != nil {
		t.Fatal(err)
	}
	if string(back.Token) != testToken {
		t.Errorf("decoded token %q", string(back.Token))
	}
	if _, err := toml.Decode("token = 12345678901234567\n", &back); err == nil {
		t.Error("a number is taken as a token")
	}
	var none bytes.Buffer
	toml.NewEncoder(&none).Encode(DefaultAdmin())
	if strings.Contains(none.String(), "token") {
		t.Errorf("an unset token is printed:\n%s", none.String())
	}
}
