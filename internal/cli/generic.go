package cli

import (
	"flag"
	"fmt"
	"strings"
)

func runRead(e *env, args []string) int {
	var field string
	c, cf, pos, code := clientFor(e, "read", args, 1, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&field, "field", "", "print only this field's value")
	})
	if code >= 0 {
		return code
	}
	s, err := c.Logical().Read(pos[0])
	if err != nil {
		return apiError(e, "reading "+pos[0], err)
	}
	if s == nil {
		fmt.Fprintf(e.stderr, "No value found at %s\n", pos[0])
		return 2
	}
	if field != "" {
		return printField(e, s.Data, field)
	}
	printSecret(e, cf.format, s)
	return exitOK
}

func runWrite(e *env, args []string) int {
	var field string
	c, cf, pos, code := clientFor(e, "write", args, 1, -1, func(fs *flag.FlagSet) {
		fs.StringVar(&field, "field", "", "print only this field of the response")
	})
	if code >= 0 {
		return code
	}
	data, err := parseData(e.stdin, pos[1:])
	if err != nil {
		return usageError(e, "Failed to parse K=V data: %v", err)
	}
	s, err := c.Logical().Write(pos[0], data)
	if err != nil {
		return apiError(e, "writing data to "+pos[0], err)
	}
	if s == nil {
		if field != "" {
			fmt.Fprintf(e.stderr, "Field %q not present: the response was empty\n", field)
			return exitError
		}
		fmt.Fprintf(e.stdout, "Success! Data written to: %s\n", pos[0])
		return exitOK
	}
	if field != "" {
		return printField(e, s.Data, field)
	}
	printSecret(e, cf.format, s)
	return exitOK
}

func runList(e *env, args []string) int {
	c, cf, pos, code := clientFor(e, "list", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	p := pos[0]
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	s, err := c.Logical().List(p)
	if err != nil {
		return apiError(e, "listing "+p, err)
	}
	if s == nil {
		fmt.Fprintf(e.stderr, "No value found at %s\n", p)
		return 2
	}
	return printKeys(e, cf.format, s)
}

func runDelete(e *env, args []string) int {
	c, _, pos, code := clientFor(e, "delete", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	if _, err := c.Logical().Delete(pos[0]); err != nil {
		return apiError(e, "deleting "+pos[0], err)
	}
	fmt.Fprintf(e.stdout, "Success! Data deleted (if it existed) at: %s\n", pos[0])
	return exitOK
}
