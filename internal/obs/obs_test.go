package obs

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestDefaults(t *testing.T) {
	if Logger(nil) == nil {
		t.Fatal("Logger(nil) is nil")
	}
	l := Logger(nil)
	if Logger(l) != l {
		t.Fatal("Logger replaced a given logger")
	}
	if Registry(nil) == nil {
		t.Fatal("Registry(nil) is nil")
	}
	reg := prometheus.NewRegistry()
	if Registry(reg) != reg {
		t.Fatal("Registry replaced a given registry")
	}
}

func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := Counter("phoneprov_test_things_total", "Things.")
	v := CounterVec("phoneprov_test_kinds_total", "Kinds.", "kind")
	g := Gauge("phoneprov_test_level", "Level.")
	cf := CounterFunc("phoneprov_test_func_total", "Func.", func() float64 { return 3 })
	gf := GaugeFunc("phoneprov_test_func_level", "Func level.", func() float64 { return 4 })
	if err := Register(reg, "test", c, v, g, cf, gf); err != nil {
		t.Fatal(err)
	}
	c.Inc()
	v.WithLabelValues("a").Add(2)
	g.Set(5)
	if n := testutil.CollectAndCount(reg); n != 5 {
		t.Fatalf("%d series, want 5", n)
	}
	if got := testutil.ToFloat64(cf); got != 3 {
		t.Fatalf("counter func = %v", got)
	}
	if got := testutil.ToFloat64(gf); got != 4 {
		t.Fatalf("gauge func = %v", got)
	}
	err := Register(reg, "test", Counter("phoneprov_test_things_total", "Things."))
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) || !strings.HasPrefix(err.Error(), "register test metrics: ") {
		t.Fatalf("second registration: %v", err)
	}
}
