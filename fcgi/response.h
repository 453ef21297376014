#ifndef X_response
#define X_response
#endif
