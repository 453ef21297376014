#ifndef X_request
#define X_request
#endif
