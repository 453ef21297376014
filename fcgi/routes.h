#ifndef X_routes
#define X_routes
#endif
