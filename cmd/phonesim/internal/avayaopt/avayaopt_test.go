package avayaopt

import (
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  map[string]string
		names []string
	}{
		{
			name:  "typical",
			in:    "MCIPADD=198.18.0.1,MCPORT=1719,HTTPSRVR=198.18.0.1,TLSSRVR=198.18.0.1,L2Q=0,VLANTEST=0",
			want:  map[string]string{"MCIPADD": "198.18.0.1", "MCPORT": "1719", "HTTPSRVR": "198.18.0.1", "TLSSRVR": "198.18.0.1", "L2Q": "0", "VLANTEST": "0"},
			names: []string{"MCIPADD", "MCPORT", "HTTPSRVR", "TLSSRVR", "L2Q", "VLANTEST"},
		},
		{
			name:  "address lists continue the previous value",
			in:    "MCIPADD=198.18.0.1,198.18.0.2,MCPORT=1719,HTTPSRVR=198.18.0.3, 198.18.0.4",
			want:  map[string]string{"MCIPADD": "198.18.0.1,198.18.0.2", "MCPORT": "1719", "HTTPSRVR": "198.18.0.3,198.18.0.4"},
			names: []string{"MCIPADD", "MCPORT", "HTTPSRVR"},
		},
		{
			name:  "names are case-insensitive, values keep case",
			in:    "httpSrvr=Files.Example,HttpDir=/Avaya/J100",
			want:  map[string]string{"HTTPSRVR": "Files.Example", "HTTPDIR": "/Avaya/J100"},
			names: []string{"HTTPSRVR", "HTTPDIR"},
		},
		{
			name:  "empty pieces, spaces and trailing NULs",
			in:    " TLSSRVR=198.18.0.1 ,, TLSPORT = 443,\x00\x00",
			want:  map[string]string{"TLSSRVR": "198.18.0.1", "TLSPORT": "443"},
			names: []string{"TLSSRVR", "TLSPORT"},
		},
		{
			name:  "a later pair wins",
			in:    "TLSPORT=411,TLSPORT=443",
			want:  map[string]string{"TLSPORT": "443"},
			names: []string{"TLSPORT"},
		},
		{
			name:  "a value with = in a list entry",
			in:    "SIP_CONTROLLER_LIST=198.18.0.1:5061;transport=tls,198.18.0.2:5061;transport=tls,SIG=2",
			want:  map[string]string{"SIP_CONTROLLER_LIST": "198.18.0.1:5061;transport=tls,198.18.0.2:5061;transport=tls", "SIG": "2"},
			names: []string{"SIP_CONTROLLER_LIST", "SIG"},
		},
		{
			name:  "empty value",
			in:    "HTTPDIR=,HTTPSRVR=198.18.0.1",
			want:  map[string]string{"HTTPDIR": "", "HTTPSRVR": "198.18.0.1"},
			names: []string{"HTTPDIR", "HTTPSRVR"},
		},
		{name: "empty string", in: "", want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if p.Len() != len(tt.want) {
				t.Errorf("Len = %d, want %d (names %v)", p.Len(), len(tt.want), p.Names())
			}
			for k, v := range tt.want {
				got, ok := p.Get(k)
				if !ok || got != v {
					t.Errorf("Get(%s) = %q, %v; want %q", k, got, ok, v)
				}
			}
			if !slices.Equal(p.Names(), tt.names) {
				t.Errorf("Names = %v, want %v", p.Names(), tt.names)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"198.18.0.1", ",,foo", "=1,HTTPSRVR=198.18.0.1"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q): no error", in)
		}
	}
}

func TestList(t *testing.T) {
	p, err := Parse("MCIPADD=198.18.0.1,198.18.0.2,,MCPORT=1719")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.List("mcipadd"); !slices.Equal(got, []string{"198.18.0.1", "198.18.0.2"}) {
		t.Errorf("List(mcipadd) = %v", got)
	}
	if got := p.List("TLSSRVR"); got != nil {
		t.Errorf("List of a missing name = %v, want nil", got)
	}
	if _, ok := p.Get("TLSSRVR"); ok {
		t.Error("Get of a missing name reports present")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("MCIPADD=198.18.0.1,198.18.0.2,MCPORT=1719")
	f.Add("a=b,,=c,d")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		for _, n := range p.Names() {
			if _, ok := p.Get(n); !ok {
				t.Fatalf("name %q listed but not found", n)
			}
		}
	})
}

// Len is the number of distinct names.
func (p Params) Len() int { return len(p.order) }
