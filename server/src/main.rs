//! The `fieldops` command: serve, migrate, seed and manage users.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use fieldops_server::accounts::staff;
use fieldops_server::config::{Config, FileConfig};
use fieldops_server::db::{Db, departments};
use fieldops_server::domain::{self, Role};
use fieldops_server::work::{Effects, Work};
use fieldops_server::{AppState, auth, seed};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "fieldops",
    version,
    about = "Offline-first field service and customer service"
)]
struct Cli {
    /// A TOML file with settings; flags and environment variables win over it.
    #[arg(long, global = true, env = "FIELDOPS_CONFIG")]
    config: Option<PathBuf>,
    /// `sqlite://data/fieldops.db` (default) or `postgres://user@host/db`.
    #[arg(long, global = true, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "FIELDOPS_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Load data into the database.
    Seed {
        /// The demo departments, accounts and customers (idempotent).
        #[arg(long)]
        demo: bool,
    },
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FIELDOPS_LISTEN")]
    listen: Option<SocketAddr>,
    /// Load the demo data first.
    #[arg(long)]
    demo: bool,
    /// Signing key for access tokens (at least 32 characters); generated and
    /// stored in the database when absent.
    #[arg(long, env = "FIELDOPS_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a staff account.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, cs, sales or technician.
        #[arg(long)]
        role: String,
        #[arg(long, env = "FIELDOPS_NEW_PASSWORD", hide_env_values = true)]
        password: String,
        /// Department names; repeat for several.
        #[arg(long)]
        department: Vec<String>,
    },
}

fn config(cli: &Cli) -> anyhow::Result<Config> {
    let file = match &cli.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let mut config = Config::from_file(file)?;
    if let Some(url) = &cli.database_url {
        config.database_url = url.clone();
    }
    if let Command::Serve(args) = &cli.command {
        if let Some(listen) = args.listen {
            config.listen = listen;
        }
        if let Some(secret) = &args.jwt_secret {
            config.jwt_secret = Some(secret.clone());
        }
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_env("FIELDOPS_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    if cli.log_json {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let config = config(&cli)?;
    match cli.command {
        Command::Serve(args) => serve(config, args.demo).await,
        Command::Migrate => {
            let db = Db::connect(&config.database_url).await?;
            db.migrate().await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Seed { demo } => {
            anyhow::ensure!(demo, "say what to seed: --demo");
            let state = AppState::build(config).await?;
            let report = seed::demo(&state).await?;
            let history = seed::demo_history(&state).await?;
            let journeys = seed::demo_journeys(&state).await?;
            tracing::info!(?report, history, journeys, "demo data loaded");
            state.shutdown.cancel();
            Ok(())
        }
        Command::User(UserCommand::Create {
            email,
            name,
            role,
            password,
            department,
        }) => {
            let state = AppState::build(config).await?;
            let created = create_user(&state, &email, &name, &role, &password, &department).await;
            state.shutdown.cancel();
            created
        }
    }
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let state = AppState::build(config).await?;
    if demo {
        let report = seed::demo(&state).await?;
        let history = seed::demo_history(&state).await?;
        let journeys = seed::demo_journeys(&state).await?;
        tracing::info!(
            ?report,
            history,
            journeys,
            "demo data loaded (admin@example.com / admin123)"
        );
    }
    let server = fieldops_server::start(state).await?;
    tracing::info!("fieldops listening on http://{}", server.addr);
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.stop().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "listening for Ctrl-C");
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => tracing::error!(error = %e, "listening for SIGTERM"),
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

async fn create_user(
    state: &AppState,
    email: &str,
    name: &str,
    role: &str,
    password: &str,
    department_names: &[String],
) -> anyhow::Result<()> {
    let role = Role::parse(role)
        .filter(|r| r.is_staff())
        .context("role must be admin, cs, sales or technician")?;
    let email = domain::email(email).map_err(|m| anyhow::anyhow!("email {m}"))?;
    let name = domain::line(name, 120).map_err(|m| anyhow::anyhow!("name {m}"))?;
    let password = domain::new_password(password).map_err(|m| anyhow::anyhow!("password {m}"))?;
    let mut department_ids = Vec::new();
    for d in department_names {
        let dept = departments::by_name(&state.db, d)
            .await?
            .with_context(|| format!("no department named {d:?}"))?;
        department_ids.push(dept.id);
    }
    let new = staff::NewStaff {
        email,
        name,
        phone: None,
        role,
        password_hash: auth::password::hash(password).await?,
        department_ids,
    };
    let mut work = Work::begin(state).await?;
    let row = staff::create(work.tx(), None, new)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    work.commit(Effects::none()).await?;
    println!("created {} ({}) with id {}", row.email, row.role, row.id);
    Ok(())
}
