export { startHttpServer, type HttpServer, type HttpServerOptions, type StatusSource } from './server.js';
export { renderStatusPage, type StatusPageInput } from './status-page.js';
