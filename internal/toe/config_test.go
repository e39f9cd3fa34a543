package toe

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestRunConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  RunConfig
		want string
	}{
		{"written by the builds", RunConfig{Phases: "build,validate", Documents: []ConfigDocument{
			NewConfigDocument("/a.yml", map[string]string{"b": "2", "a": "1"}), NewConfigDocument("/b.yml", nil)}},
			`{"documents":[{"path":"/a.yml","parameters":[{"name":"a","value":"1"},{"name":"b","value":"2"}]},{"path":"/b.yml"}],"phases":"build,validate"}`},
		{"empty", RunConfig{}, `{"documents":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.cfg)
			if err != nil || string(data) != tt.want {
				t.Fatalf("Marshal = %s, %v; want %s", data, err, tt.want)
			}
			var back RunConfig
			if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, tt.cfg) {
				t.Fatalf("round trip = %+v, %v", back, err)
			}
		})
	}
	// the misspelt key of AWS's example is read
	var c RunConfig
	if err := json.Unmarshal([]byte(`{"executonId":"x","parameters":[{"name":"p","value":"1"},{"name":"p","value":"2"}]}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.ExecutonID != "x" || !reflect.DeepEqual(ParameterMap(c.Parameters), map[string]string{"p": "2"}) {
		t.Fatalf("read %+v", c)
	}
}
