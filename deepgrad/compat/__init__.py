"""Names from other frameworks' namespaces, mapped onto deepgrad, so programs written for them
run with only their import lines changed."""
