package devdb

import "testing"

func TestTakeFault(t *testing.T) {
	var s Server

	s.Inject(Fault{Command: "Update", Times: 2, ErrorCode: 1})
	s.Inject(Fault{Fail: true})

	steps := []struct {
		command string
		want    Fault
		ok      bool
	}{
		{"update", Fault{Command: "Update", Times: 2, ErrorCode: 1}, true},
		{"hello", Fault{}, false},    // catch-all spares the handshake
		{"ismaster", Fault{}, false}, // ditto
		{"find", Fault{Fail: true}, true},
		{"update", Fault{Command: "Update", Times: 2, ErrorCode: 1}, true},
		{"update", Fault{Fail: true}, true}, // first rule used up
		{"find", Fault{Fail: true}, true},   // unlimited
	}

	for i, st := range steps {
		f, ok := s.takeFault(st.command)
		if ok != st.ok || f != st.want {
			t.Fatalf("step %d (%s): got %+v %v, want %+v %v", i, st.command, f, ok, st.want, st.ok)
		}
	}

	s.Inject(Fault{Command: "hello", Delay: 1})

	if _, ok := s.takeFault("hello"); !ok {
		t.Fatal("explicit hello rule did not match")
	}

	s.ClearFaults()

	if _, ok := s.takeFault("find"); ok {
		t.Fatal("fault left after ClearFaults")
	}
}
