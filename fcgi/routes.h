/* routes.h - the API at a glance: one table of {method, pattern, handler}. */
#ifndef APPR_ROUTES_H
#define APPR_ROUTES_H

#include "request.h"
#include "response.h"

/* Compile the route patterns. Once per process, before the first request. */
void routes_init(void);

/* Find the route for req (HEAD matches GET routes), fill req->args and run its
 * handler; a failing handler's req->err becomes the JSON error body here and only
 * here. No route: 404; a route with other methods: 405 with Allow. */
void routes_dispatch(struct request *req, struct response *resp);

#endif
