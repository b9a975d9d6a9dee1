# Turns the timeline page into a C++ string constant (drop::replay::kTimelinePage).
file(READ ${IN} page)
set(delim "DROP_PAGE_")
file(WRITE ${OUT} "// Generated from replay/timeline_page.html; do not edit.\n"
  "namespace drop::replay {\nextern const char kTimelinePage[];\n"
  "const char kTimelinePage[] = R\"${delim}(${page})${delim}\";\n}\n")
