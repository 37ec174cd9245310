//! Turning IAM database authentication on for an RDS instance or Aurora cluster that has it off.
//!
//! <https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html>,
//! <https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBCluster.html>.

use iamwire_core::DiscoveryType;

use super::page::{RDS, RDS_VERSION};
use super::{DiscoveredDatabase, DiscoveryError, Inner};
use crate::aws_api::{ApiRequest, Body};
use crate::role::RoleChain;

/// `ModifyDBInstance` / `ModifyDBCluster` with `EnableIAMDatabaseAuthentication=true` and
/// `ApplyImmediately=true`, through the database's role, in its region.
pub(crate) async fn enable(
    inner: &Inner,
    found: &DiscoveredDatabase,
) -> Result<(), DiscoveryError> {
    let db = &found.database;
    let not_rds = || DiscoveryError::NotRds {
        database: db.name.clone(),
    };
    if found.kind != DiscoveryType::Rds {
        return Err(not_rds());
    }
    let rds = db.aws.rds.as_ref().ok_or_else(not_rds)?;
    let (operation, id_param, id) = match (&rds.instance_id, &rds.cluster_id) {
        (Some(id), _) => ("ModifyDBInstance", "DBInstanceIdentifier", id),
        (None, Some(id)) => ("ModifyDBCluster", "DBClusterIdentifier", id),
        (None, None) => return Err(not_rds()),
    };
    let region = db.aws.region.as_deref().ok_or_else(not_rds)?;
    let credentials_error =
        |code: Option<String>, source: Box<dyn std::error::Error + Send + Sync>| {
            DiscoveryError::Credentials {
                database: db.name.clone(),
                code,
                source,
            }
        };
    let reach = &inner.reach;
    let chain = RoleChain::for_database(&db.aws, None, &reach.session_name)
        .map_err(|e| credentials_error(None, Box::new(e)))?;
    let credentials = reach
        .roles
        .credentials(&chain)
        .await
        .map_err(|e| credentials_error(e.code().map(str::to_owned), Box::new(e)))?;
    let call = reach.call(&credentials, region, RDS);
    let request = ApiRequest {
        service: RDS,
        operation,
        body: Body::Query {
            action: operation,
            version: RDS_VERSION,
            params: vec![
                (id_param.into(), id.clone()),
                ("EnableIAMDatabaseAuthentication".into(), "true".to_owned()),
                ("ApplyImmediately".into(), "true".to_owned()),
            ],
        },
        call,
    };
    let failed = |source: crate::aws_api::ApiError| DiscoveryError::EnableIamAuth {
        database: db.name.clone(),
        operation,
        code: source.code().map(str::to_owned),
        source: Box::new(source),
    };
    reach
        .client
        .query(&request, id, 1000)
        .await
        .map_err(failed)?;
    tracing::info!(database = %db.name, %operation, "turned IAM database authentication on");
    Ok(())
}
