// Renders an Ollama TEMPLATE as Ollama does (Go's text/template over the chat's messages), for the export tests.
// Reads {"template": "...", "messages": [{"role": "...", "content": "..."}]} on stdin, writes the prompt.
package main

import (
	"encoding/json"
	"os"
	"text/template"
)

func main() {
	var input struct {
		Template string              `json:"template"`
		Messages []map[string]string `json:"messages"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&input); err != nil {
		panic(err)
	}
	messages := make([]map[string]any, len(input.Messages))
	for i, message := range input.Messages {
		messages[i] = map[string]any{"Role": message["role"], "Content": message["content"]}
	}
	tmpl := template.Must(template.New("ollama").Parse(input.Template))
	if err := tmpl.Execute(os.Stdout, map[string]any{"Messages": messages}); err != nil {
		panic(err)
	}
}
