//! The command line.

use crate::config::{Config, LogFormat};
use crate::telemetry;
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use domain::audit::NewAuditEntry;
use domain::roles::Role;
use domain::tokens::Scope;
use domain::validation::{DisplayName, Email};
use domain::Principal;
use std::path::PathBuf;
use std::process::ExitCode;
use store::{audit, memberships, sessions, tenants, tokens as token_repo, users, Store};

/// BizOSaaS: connect your business tools, see their data in one portal, and
/// work with AI agents on your own keys.
#[derive(Debug, Parser)]
#[command(name = "bizosaas", version, about)]
pub struct Cli {
    /// Configuration file (default: ./bizosaas.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory for embedded storage (default ./data).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve(ServeArgs),
    /// Run a Temporal worker (task queue `bizosaas-main`): executes the
    /// workflows and activities when `workflows.engine = "temporal"`.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Operator tasks: tenants and tokens.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Check that every configured backend is reachable and set up correctly.
    Doctor,
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8000).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// `admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a tenant.
    CreateTenant {
        /// Display name; its slug identifies it on the command line.
        #[arg(long)]
        name: String,
    },
    /// Create a user in a tenant (or add an existing user to it). The
    /// password is read from standard input.
    CreateUser {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Tenant slug or id.
        #[arg(long)]
        tenant: String,
        /// Role in the tenant: owner, admin, member, viewer.
        #[arg(long, default_value = "member")]
        role: Role,
        /// Display name (default: the email's local part).
        #[arg(long)]
        name: Option<String>,
    },
    /// Set a user's password (read from standard input), clear a lockout and
    /// end all their sessions.
    ResetPassword {
        /// Email address.
        #[arg(long)]
        email: String,
    },
    /// Create an API token for a tenant and print it (shown once).
    CreateToken {
        /// Tenant slug or id.
        #[arg(long)]
        tenant: String,
        /// Token label.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Scopes (repeatable): read, write, admin.
        #[arg(long = "scope", default_value = "admin")]
        scopes: Vec<Scope>,
    },
    /// Rotate the local secret store's master key: a new key seals from now
    /// on, every stored data key is re-wrapped under it while servers keep
    /// running, then the old key is retired.
    RotateMasterKey,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(d) = cli.data_dir {
        config.data_dir = d;
    }
    if let Some(f) = cli.log_format {
        config.log_format = f;
    }
    let _log_guard = telemetry::init(config.log_format, &config.log_level);
    match cli.command {
        Command::Serve(args) => {
            if let Some(l) = args.listen {
                config.listen = l;
            }
            serve(config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker => {
            let store = open(&config).await?;
            store.migrate().await.context("migration failed")?;
            println!(
                "BizOSaaS worker polling task queue {} on {} (namespace {})",
                config.temporal.task_queue, config.temporal.address, config.temporal.namespace
            );
            crate::engine::worker(&config, &store, shutdown_signal()).await?;
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let store = open(&config).await?;
            store.migrate().await.context("migration failed")?;
            println!("migrations applied ({})", store.backend().name());
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(cmd) => {
            let store = open(&config).await?;
            store.migrate().await.context("migration failed")?;
            admin(&config, &store, cmd).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor => crate::cli::doctor(&config).await,
    }
}

use crate::startup::open_store as open;

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = crate::startup::App::build(config).await?;
    let addr = app.addr();
    tracing::info!(%addr, database = app.state().store.backend().name(), "BizOSaaS listening");
    println!("BizOSaaS is running at http://{addr}  (API reference: http://{addr}/api/docs)");
    app.run_until_stopped(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn admin(config: &Config, store: &Store, cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::CreateTenant { name } => {
            let name = DisplayName::parse(&name).map_err(|m| anyhow::anyhow!("--name {m}"))?;
            let t = match tenants::create(store, &name).await {
                Err(store::StoreError::Conflict(_)) => {
                    bail!("a tenant with that name (slug) already exists")
                }
                other => other?,
            };
            println!("created tenant {} (slug `{}`, id {})", t.name, t.slug, t.id);
        }
        AdminCommand::CreateUser {
            email,
            tenant,
            role,
            name,
        } => {
            let t = tenants::find(store, &tenant)
                .await?
                .with_context(|| format!("no tenant `{tenant}`"))?;
            let email = Email::parse(&email).map_err(|m| anyhow::anyhow!("--email {m}"))?;
            let scope = Principal::operator(t.id).scope();
            match users::credentials(store, &email).await? {
                Some(existing) => {
                    let mut tx = store.write(&scope).await?;
                    if memberships::role_of(&mut tx, existing.user.id)
                        .await?
                        .is_some()
                    {
                        bail!("{} is already a member of {}", email.as_str(), t.slug);
                    }
                    memberships::add(&mut tx, existing.user.id, role).await?;
                    audit::record(&mut tx, member_added(&existing.user, role)).await?;
                    tx.commit().await?;
                    println!(
                        "added existing user {} to {} as {role}",
                        email.as_str(),
                        t.slug
                    );
                }
                None => {
                    let password = read_password()?;
                    auth::password::check_strength(&password, email.as_str())
                        .map_err(|e| anyhow::anyhow!("password {e}"))?;
                    let local = email.as_str().split('@').next().unwrap_or("").to_string();
                    let name = DisplayName::parse(name.as_deref().unwrap_or(&local))
                        .map_err(|m| anyhow::anyhow!("--name {m}"))?;
                    let hash = tokio::task::spawn_blocking(move || auth::password::hash(&password))
                        .await?;
                    let mut tx = store.write(&scope).await?;
                    let user =
                        users::create(&mut tx, domain::UserId::new(), &email, &name, &hash).await?;
                    memberships::add(&mut tx, user.id, role).await?;
                    audit::record(&mut tx, member_added(&user, role)).await?;
                    tx.commit().await?;
                    println!(
                        "created user {} ({}) in {} as {role}",
                        user.email, user.id, t.slug
                    );
                }
            }
        }
        AdminCommand::ResetPassword { email } => {
            let email = Email::parse(&email).map_err(|m| anyhow::anyhow!("--email {m}"))?;
            let creds = users::credentials(store, &email)
                .await?
                .with_context(|| format!("no user {}", email.as_str()))?;
            let password = read_password()?;
            auth::password::check_strength(&password, email.as_str())
                .map_err(|e| anyhow::anyhow!("password {e}"))?;
            let hash = tokio::task::spawn_blocking(move || auth::password::hash(&password)).await?;
            users::set_password(store, creds.user.id, &hash).await?;
            let mut ended = 0;
            for (tenant, _) in memberships::of_user(store, creds.user.id).await? {
                let mut tx = store.write(&Principal::operator(tenant).scope()).await?;
                ended += sessions::revoke_all_of_user(&mut tx, creds.user.id).await?;
                audit::record(
                    &mut tx,
                    NewAuditEntry::new(
                        "user.password_reset",
                        "user",
                        Some(creds.user.id.to_string()),
                    )
                    .with_metadata(serde_json::json!({ "email": creds.user.email, "via": "cli" })),
                )
                .await?;
                tx.commit().await?;
            }
            println!(
                "password of {} reset; {ended} session(s) ended",
                email.as_str()
            );
        }
        AdminCommand::RotateMasterKey => crate::rotate::rotate_master_key(config, store).await?,
        AdminCommand::CreateToken {
            tenant,
            name,
            scopes,
        } => {
            let t = tenants::find(store, &tenant)
                .await?
                .with_context(|| format!("no tenant `{tenant}`"))?;
            let label = DisplayName::parse(&name).map_err(|m| anyhow::anyhow!("--name {m}"))?;
            let mut tx = store.write(&Principal::operator(t.id).scope()).await?;
            let (token, secret) =
                token_repo::issue(&mut tx, &label, &scopes, Default::default()).await?;
            tx.commit().await?;
            eprintln!(
                "created token `{}` for tenant {} with scopes {:?}; it is shown only now:",
                token.name, t.slug, token.scopes
            );
            println!("{}", secret.plaintext);
        }
    }
    Ok(())
}

fn member_added(user: &users::User, role: Role) -> NewAuditEntry {
    NewAuditEntry::new("member.add", "membership", Some(user.id.to_string()))
        .with_metadata(serde_json::json!({ "email": user.email, "role": role, "via": "cli" }))
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(
        !password.is_empty(),
        "give the password on standard input, e.g. `printf '%s' \"$PW\" | bizosaas admin …`"
    );
    Ok(password)
}

/// `bizosaas doctor`: checks each backend and prints one line per check.
pub async fn doctor(config: &Config) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut report = |ok: bool, what: &str, detail: String| {
        println!(
            "[{}] {what}{}",
            if ok { " ok " } else { "FAIL" },
            if detail.is_empty() {
                detail
            } else {
                format!(": {detail}")
            }
        );
        failed |= !ok;
    };
    let db_url = store::redact_url(&config.database_url());
    let store = match open(config).await {
        Ok(s) => s,
        Err(e) => {
            report(false, "database configuration", format!("{db_url}: {e:#}"));
            return Ok(ExitCode::FAILURE);
        }
    };
    match store.ping().await {
        Ok(()) => report(
            true,
            "database reachable",
            format!("{} ({db_url})", store.backend().name()),
        ),
        Err(e) => {
            report(false, "database reachable", format!("{db_url}: {e}"));
            return Ok(ExitCode::FAILURE);
        }
    }
    match store.migration_status().await {
        Ok(s) if s.pending.is_empty() => report(true, "migrations applied", String::new()),
        Ok(s) => report(
            false,
            "migrations applied",
            format!("pending: {} (run `bizosaas migrate`)", s.pending.join(", ")),
        ),
        Err(e) => report(false, "migrations applied", e.to_string()),
    }
    match store.security_report().await {
        Ok(Some(r)) => {
            let problems = r.problems();
            report(
                problems.is_empty(),
                "row-level security",
                if problems.is_empty() {
                    format!(
                        "runtime role `{}` is subject to RLS on every tenant table",
                        r.role
                    )
                } else {
                    problems.join("; ")
                },
            );
        }
        Ok(None) => report(
            true,
            "tenant isolation",
            "SQLite: every repository query filters by tenant".into(),
        ),
        Err(e) => report(false, "row-level security", e.to_string()),
    }
    match config.secret_store(&store) {
        Ok(secrets) => match secrets.check().await {
            Ok(checked) => report(
                true,
                &format!("secret store ({})", secrets.name()),
                checked.join("; "),
            ),
            Err(e) => report(
                false,
                &format!("secret store ({})", secrets.name()),
                e.to_string(),
            ),
        },
        Err(e) => report(false, "secret store configuration", format!("{e:#}")),
    }
    if config.database.url.is_none() {
        let probe = config.data_dir.join(".doctor-probe");
        let ok = std::fs::write(&probe, b"ok").and_then(|_| std::fs::remove_file(&probe));
        report(
            ok.is_ok(),
            "data directory writable",
            match ok {
                Ok(()) => config.data_dir.display().to_string(),
                Err(e) => format!("{}: {e}", config.data_dir.display()),
            },
        );
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
