// The playground page (see member/playground.rs).
"use strict";
