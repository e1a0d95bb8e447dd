# The app's image: one build serves the API (`node server/main.ts`, the
# default), the worker (`node worker/main.ts`) and the ops CLI
# (`node cli/main.ts db:migrate`). Node 24 runs the TypeScript directly.
#
#   docker build -t secure-my-spot .                 production: runtime deps only, non-root
#   docker build --target dev -t secure-my-spot:dev .  adds the dev tools docker-compose.yml
#                                                    uses for the mail sink and the Stripe emulator
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
# Install scripts stay off: the only ones in the tree are development tools
# (the `node` binary package, git hooks); the base image brings Node 24.
ENV NPM_CONFIG_IGNORE_SCRIPTS=true NPM_CONFIG_AUDIT=false NPM_CONFIG_FUND=false NPM_CONFIG_UPDATE_NOTIFIER=false

FROM base AS prod-deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM base AS dev
COPY package.json package-lock.json ./
RUN npm ci && npm cache clean --force
COPY . .
USER node

FROM base AS runtime
ENV NODE_ENV=production
COPY --from=prod-deps /app/node_modules ./node_modules
COPY . .
USER node
EXPOSE 5678
# Health checks are per service (docker-compose.yml): the API answers /ready on
# its port, the worker on WORKER_HEALTH_PORT, from the same image.
CMD ["node", "server/main.ts"]
