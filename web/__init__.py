"""The web layer routes/ (JSON API) and pages/ (HTML) share: request session, clock, current
actor, loaders, forms parsed into the API's schemas, error wording, middleware, and the
after-commit move hook. It imports workflows/, models/ and schemas/, never routes/ or pages/."""
