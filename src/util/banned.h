/*
 * banned.h - functions that are easy to misuse (after git's banned.h).
 * Included as the last header of a source file; scripts/check-style also
 * greps the tree for them, so a use fails `make test` either way. Use
 * snprintf, memcpy with explicit sizes, or strtol/text_parse_* instead.
 */
#ifndef MOVIEREC_BANNED_H
#define MOVIEREC_BANNED_H

#pragma GCC poison strcpy strcat strncpy sprintf vsprintf strtok gets atoi

#endif
