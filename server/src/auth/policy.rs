//! Who may do what: the one place where roles, ownership and departments turn
//! into allow or deny. Handlers name the [`Action`] they are about to take and
//! call [`Actor::authorize`]; nothing else in the server checks roles.

use super::Actor;
use crate::domain::Role::{self, *};

/// The policy said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not allowed for this account")]
pub struct Denial;

impl From<Denial> for crate::service::ServiceError {
    fn from(_: Denial) -> Self {
        crate::service::forbidden()
    }
}

/// Something an actor wants to do, with what the decision depends on.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    ListUsers,
    ViewUser {
        user_id: &'a str,
    },
    CreateUser {
        role: Role,
    },
    /// Edit profile or departments, deactivate, reactivate, reset the password.
    ManageUser {
        target_role: Role,
    },
    ChangeRole {
        from: Role,
        to: Role,
    },
    ListDepartments,
    ManageDepartments,
    ListCustomers,
    ViewCustomer {
        customer_id: &'a str,
    },
    /// Create, edit, soft-delete and restore customers.
    ManageCustomers,
    SetPresence,
    /// Start a resumable photo upload.
    CreateUpload,
    /// See, continue or cancel an upload: only the account that started it.
    UseUpload {
        owner_id: &'a str,
    },
    /// Ask whether the server already holds some bytes ("do you have hash X").
    CheckBlob,
    /// Read a photo or its thumbnail (a download link, or "do you have
    /// hash X"). `uploader_or_owner`: the caller uploaded these bytes or is
    /// recorded as an owner of the photo; `sees_an_owner`: the caller may see
    /// a ticket or visit the photo was attached to by an uploader (decided
    /// with [`Action::ViewTicket`] and [`Action::ViewVisitPhotos`]).
    DownloadPhoto {
        uploader_or_owner: bool,
        sees_an_owner: bool,
    },
    /// Attach a photo taken on a device to a ticket or visit of customer
    /// `customer_id`; `holder`: the actor holds a visit of it now.
    AttachPhoto {
        customer_id: &'a str,
        holder: bool,
    },
    /// Attach an uploaded image to a ticket of `customer_id` in
    /// `department_id`, from a phone or over HTTP: whoever may write in its
    /// public thread (its customer, admins, its department's staff) and a
    /// technician holding one of its visits (`holder`).
    AttachToTicket {
        department_id: &'a str,
        customer_id: &'a str,
        holder: bool,
    },
    /// The ticket list; what it contains is scoped by [`Actor::ticket_scope`].
    ListTickets,
    ViewTicket {
        department_id: &'a str,
        customer_id: &'a str,
    },
    /// Open a ticket for `customer_id` (a customer only for themselves).
    CreateTicket {
        customer_id: &'a str,
    },
    /// Edit subject, description, category, priority, department.
    EditTicket {
        department_id: &'a str,
    },
    ChangeTicketStatus {
        department_id: &'a str,
        customer_id: &'a str,
        to: crate::domain::TicketStatus,
    },
    AssignTicket {
        department_id: &'a str,
    },
    PostTicketMessage {
        department_id: &'a str,
        customer_id: &'a str,
        internal: bool,
    },
    /// See internal notes, the audit trail and assignment reasons.
    ViewTicketInternals,
    TicketStats,
    /// Set an agent's shift.
    ManageShifts,
    ListConversations,
    /// Read or write a conversation of `customer_id`.
    UseConversation {
        customer_id: &'a str,
    },
    /// Start a conversation with `customer_id`.
    StartConversation {
        customer_id: &'a str,
    },
    /// List visits; what the list holds is [`Actor::visit_scope`].
    ListVisits,
    ViewVisit {
        customer_id: &'a str,
        /// Open for claims.
        in_pool: bool,
        /// The actor holds an assignment on it now (not released).
        holder: bool,
    },
    /// See the photos attached to a visit. The pool shows a visit, never its
    /// photos (photo documents never enter the pool in sync either), so a
    /// technician sees them only while holding the visit.
    ViewVisitPhotos {
        customer_id: &'a str,
        /// The actor holds an assignment on it now (not released).
        holder: bool,
    },
    /// Create visits, edit them, cancel them.
    ManageVisits,
    /// Change the schedule of, or cancel, a visit that technicians hold.
    ForceVisitChange,
    ClaimVisit,
    /// Withdraw, check in and out, ask for extra days (on one's own assignment).
    WorkVisit,
    /// Mark a visit done (a technician on their own assignment, or CS).
    CompleteVisit,
    ReopenVisit,
    /// Send an assignment back to the emergency pool.
    ReturnToPool,
    ViewAttendance,
    /// List, approve and reject extension requests.
    DecideExtensions,
    /// The invoice list; customers see only their own sent invoices.
    ListInvoices,
    /// See one invoice; `issued`: the customer has been sent it.
    ViewInvoice {
        customer_id: &'a str,
        issued: bool,
    },
    /// Draft, edit, submit and send invoices and credit notes.
    DraftInvoices,
    /// Approve a submitted invoice's price, or return it with a comment.
    ApproveInvoices,
    /// Attach proof of payment to a sent invoice.
    SubmitPayment {
        customer_id: &'a str,
        issued: bool,
    },
    /// Verify or reject a submitted payment.
    CheckPayments,
    /// Write off what is still due.
    WriteOffInvoices,
    /// Void an invoice the customer does not have yet.
    VoidInvoices,
    /// Every KPI row: management (seed 003's *dashboard manajemen*).
    ViewAllKpi,
    /// One's own KPI rows (and, for a department lead, the department's).
    ViewOwnKpi,
    /// The real-time counts: queue, agents online, technicians on site.
    ViewLiveMetrics,
    /// See and dismiss what needs an admin (a rating template Meta rejected).
    ManageAlerts,
    /// Change the SLA calendar and targets, round-robin, rating requests.
    ManageSettings,
    /// Build, publish and retire journeys (intake forms).
    ManageJourneys,
    /// Fill in a published journey, opening a ticket (customers).
    StartJourney,
    /// Call a customer (the department and presence rules are the call
    /// service's).
    CallCustomer,
    /// Call customer service (customers).
    CallSupport,
    /// Read the call log.
    ViewCalls,
    /// Register this device's push token (calls ring phones without a live
    /// connection through it).
    RegisterPush,
}

/// Which visits an actor's lists contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VisitScope {
    All,
    /// A technician: the open pool plus the visits they hold.
    PoolOrHeldBy(String),
    /// A customer: their own visits.
    Customer(String),
    Nothing,
}

impl Actor {
    /// Allows or denies `action`. Adapters render a denial (a 403 problem,
    /// a `forbidden` command result); services turn it into a
    /// [`ServiceError`](crate::service::ServiceError) with `?`.
    pub fn authorize(&self, action: Action<'_>) -> Result<(), Denial> {
        if self.allows(action) {
            Ok(())
        } else {
            Err(Denial)
        }
    }

    pub fn allows(&self, action: Action<'_>) -> bool {
        let role = self.role;
        match action {
            Action::ListUsers => matches!(role, Admin | Cs),
            Action::ViewUser { user_id } => matches!(role, Admin | Cs) || user_id == self.user_id,
            // CS enrol and look after technicians; everything else is the admin's.
            // Seed 003: "Admin/CS mendaftarkan akun untuk Teknisi atau CS baru".
            Action::CreateUser { role: new } => {
                role == Admin || (role == Cs && matches!(new, Technician | Cs))
            }
            Action::ManageUser { target_role } => {
                role == Admin || (role == Cs && target_role == Technician)
            }
            // Role changes are the admin's alone.
            Action::ChangeRole { .. } => role == Admin,
            Action::ListDepartments => role.is_staff(),
            Action::ManageDepartments => role == Admin,
            Action::ListCustomers => matches!(role, Admin | Cs | Sales),
            Action::ManageCustomers => matches!(role, Admin | Cs),
            Action::ViewCustomer { customer_id } => {
                matches!(role, Admin | Cs | Sales)
                    || (role == Customer && self.customer_id.as_deref() == Some(customer_id))
            }
            Action::SetPresence => role.is_staff(),
            Action::CreateUpload | Action::CheckBlob => true,
            Action::UseUpload { owner_id } => owner_id == self.user_id,
            // Photos follow what they are attached to; admins see all.
            Action::DownloadPhoto {
                uploader_or_owner,
                sees_an_owner,
            } => role == Admin || uploader_or_owner || sees_an_owner,
            // Customers on their own tickets and visits, technicians on the
            // visits they hold. Staff attach over HTTP.
            Action::AttachPhoto {
                customer_id,
                holder,
            } => self.owns(customer_id) || (role == Technician && holder),
            Action::AttachToTicket {
                department_id,
                customer_id,
                holder,
            } => {
                role == Admin
                    || (role.is_staff() && self.in_department(department_id))
                    || self.owns(customer_id)
                    || (role == Technician && holder)
            }
            Action::ListTickets => true,
            Action::ViewTicket {
                department_id,
                customer_id,
            } => {
                role == Admin
                    || (role.is_staff() && self.in_department(department_id))
                    || self.owns(customer_id)
            }
            Action::CreateTicket { customer_id } => {
                matches!(role, Admin | Cs) || self.owns(customer_id)
            }
            Action::EditTicket { department_id } | Action::AssignTicket { department_id } => {
                role == Admin || (role == Cs && self.in_department(department_id))
            }
            Action::ChangeTicketStatus {
                department_id,
                customer_id,
                to,
            } => {
                use crate::domain::TicketStatus::{Closed, Open};
                role == Admin
                    || (role == Cs && self.in_department(department_id))
                    || (self.owns(customer_id) && matches!(to, Closed | Open))
            }
            Action::PostTicketMessage {
                department_id,
                customer_id,
                internal,
            } => {
                role == Admin
                    || (role.is_staff() && self.in_department(department_id))
                    || (!internal && self.owns(customer_id))
            }
            Action::ViewTicketInternals => role.is_staff(),
            Action::TicketStats => matches!(role, Admin | Cs),
            Action::ManageShifts => matches!(role, Admin | Cs),
            Action::ListConversations => matches!(role, Admin | Cs | Customer),
            Action::UseConversation { customer_id } => {
                matches!(role, Admin | Cs) || self.owns(customer_id)
            }
            Action::StartConversation { customer_id } => {
                matches!(role, Admin | Cs) || self.owns(customer_id)
            }
            Action::ListVisits => true,
            Action::ViewVisit {
                customer_id,
                in_pool,
                holder,
            } => match role {
                Admin | Cs | Sales => true,
                Technician => in_pool || holder,
                Customer => self.customer_id.as_deref() == Some(customer_id),
            },
            Action::ViewVisitPhotos {
                customer_id,
                holder,
            } => match role {
                Admin | Cs | Sales => true,
                Technician => holder,
                Customer => self.customer_id.as_deref() == Some(customer_id),
            },
            Action::ManageVisits
            | Action::ReopenVisit
            | Action::ReturnToPool
            | Action::ViewAttendance
            | Action::DecideExtensions => matches!(role, Admin | Cs),
            Action::ForceVisitChange => role == Admin,
            Action::ClaimVisit | Action::WorkVisit => role == Technician,
            Action::CompleteVisit => matches!(role, Admin | Cs | Technician),
            // Seed 003 (FIN): CS draft and send, sales approve the price,
            // CS record payment; the customer sees what they were sent.
            Action::ListInvoices => matches!(role, Admin | Cs | Sales | Customer),
            Action::ViewInvoice {
                customer_id,
                issued,
            } => matches!(role, Admin | Cs | Sales) || (issued && self.owns(customer_id)),
            Action::SubmitPayment {
                customer_id,
                issued,
            } => matches!(role, Admin | Cs) || (issued && self.owns(customer_id)),
            Action::DraftInvoices | Action::CheckPayments => matches!(role, Admin | Cs),
            Action::ApproveInvoices | Action::WriteOffInvoices => matches!(role, Admin | Sales),
            Action::VoidInvoices => role == Admin,
            Action::ViewAllKpi
            | Action::ManageAlerts
            | Action::ManageSettings
            | Action::ManageJourneys => role == Admin,
            Action::StartJourney | Action::CallSupport => role == Customer,
            Action::CallCustomer | Action::ViewCalls => matches!(role, Admin | Cs),
            Action::RegisterPush => true,
            Action::ViewOwnKpi => role.is_staff(),
            Action::ViewLiveMetrics => matches!(role, Admin | Cs | Sales),
        }
    }

    /// Whether this staff member may read live events of `kind` sent to
    /// staff (`crate::events::KINDS`): the roles that may read the same thing
    /// over HTTP. The event's audience narrows it further (a department).
    pub fn reads_staff_event(&self, kind: &str) -> bool {
        let role = self.role;
        if !role.is_staff() {
            return false;
        }
        match kind.split_once('.').map_or(kind, |(family, _)| family) {
            // Names, phones and addresses: who may list customers.
            "customer" => self.allows(Action::ListCustomers),
            // Whom a message went to, what a customer wrote.
            "whatsapp" | "chat" | "conversation" => self.allows(Action::ListConversations),
            // Where a technician stood, and when.
            "attendance" => self.allows(Action::ViewAttendance),
            "extension" => self.allows(Action::DecideExtensions),
            // Amounts and customers' names.
            "invoice" => self.allows(Action::ListInvoices),
            // How customers judged a visit: who may list customers.
            "rating" => self.allows(Action::ListCustomers),
            // Who called whom, and how it went.
            "call" => self.allows(Action::ViewCalls),
            // The pool: technicians claim from it.
            "visit" | "assignment" => self.allows(Action::ListVisits),
            // The audience holds the department.
            "ticket" | "staff" => true,
            _ => role == Admin,
        }
    }

    /// True for the account of customer `customer_id`.
    fn owns(&self, customer_id: &str) -> bool {
        self.role == Customer && self.customer_id.as_deref() == Some(customer_id)
    }

    /// Which tickets this actor may list: admins all, staff their departments,
    /// customers their own.
    pub fn ticket_scope(&self) -> crate::db::tickets::Scope {
        use crate::db::tickets::Scope;
        match (self.role, &self.customer_id) {
            (Admin, _) => Scope::All,
            (Customer, Some(c)) => Scope::Customer(c.clone()),
            (Customer, None) => Scope::Departments(vec![]),
            _ => Scope::Departments(self.department_ids.clone()),
        }
    }

    /// The visits this actor's lists may contain.
    pub fn visit_scope(&self) -> VisitScope {
        match self.role {
            Admin | Cs | Sales => VisitScope::All,
            Technician => VisitScope::PoolOrHeldBy(self.user_id.clone()),
            Customer => self
                .customer_id
                .clone()
                .map_or(VisitScope::Nothing, VisitScope::Customer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role) -> Actor {
        Actor {
            user_id: "me".into(),
            session_id: "s".into(),
            role,
            name: "x".into(),
            customer_id: (role == Customer).then(|| "c1".into()),
            department_ids: vec![],
        }
    }

    #[test]
    fn cs_manage_technicians_only() {
        let cs = actor(Cs);
        assert!(cs.allows(Action::CreateUser { role: Technician }));
        assert!(!cs.allows(Action::CreateUser { role: Admin }));
        assert!(cs.allows(Action::CreateUser { role: Cs }));
        assert!(!cs.allows(Action::CreateUser { role: Sales }));
        assert!(cs.allows(Action::ManageUser {
            target_role: Technician
        }));
        assert!(!cs.allows(Action::ManageUser { target_role: Sales }));
        assert!(!cs.allows(Action::ChangeRole {
            from: Technician,
            to: Admin
        }));
        assert!(!cs.allows(Action::ChangeRole {
            from: Technician,
            to: Cs
        }));
    }

    #[test]
    fn customers_see_only_their_own_record() {
        let c = actor(Customer);
        assert!(c.allows(Action::ViewCustomer { customer_id: "c1" }));
        assert!(!c.allows(Action::ViewCustomer { customer_id: "c2" }));
        assert!(!c.allows(Action::ListCustomers));
        assert!(!c.allows(Action::SetPresence));
    }

    #[test]
    fn sales_read_customers_but_do_not_edit() {
        let s = actor(Sales);
        assert!(s.allows(Action::ListCustomers));
        assert!(!s.allows(Action::ManageCustomers));
    }

    #[test]
    fn uploads_belong_to_their_creator_and_photos_to_their_scope() {
        for role in Role::ALL {
            let a = actor(*role);
            assert!(a.allows(Action::UseUpload { owner_id: "me" }));
            assert!(!a.allows(Action::UseUpload { owner_id: "other" }));
            assert!(a.allows(Action::DownloadPhoto {
                uploader_or_owner: true,
                sees_an_owner: false,
            }));
            assert!(a.allows(Action::DownloadPhoto {
                uploader_or_owner: false,
                sees_an_owner: true,
            }));
        }
        // Staff no longer see every photo: only those of what they may see.
        for role in [Cs, Sales, Technician, Customer] {
            assert!(!actor(role).allows(Action::DownloadPhoto {
                uploader_or_owner: false,
                sees_an_owner: false,
            }));
        }
        assert!(actor(Admin).allows(Action::DownloadPhoto {
            uploader_or_owner: false,
            sees_an_owner: false,
        }));
        // Attaching: the customer to their own, a technician to what they hold.
        let customer = actor(Customer);
        let own = customer.customer_id.clone().unwrap_or_default();
        assert!(customer.allows(Action::AttachPhoto {
            customer_id: &own,
            holder: false
        }));
        assert!(!customer.allows(Action::AttachPhoto {
            customer_id: "someone-else",
            holder: true
        }));
        assert!(actor(Technician).allows(Action::AttachPhoto {
            customer_id: "c1",
            holder: true
        }));
        assert!(!actor(Technician).allows(Action::AttachPhoto {
            customer_id: "c1",
            holder: false
        }));
        assert!(!actor(Cs).allows(Action::AttachPhoto {
            customer_id: "c1",
            holder: true
        }));
    }

    #[test]
    fn tickets_follow_departments_and_ownership() {
        let mut cs = actor(Cs);
        cs.department_ids = vec!["d1".into()];
        assert!(cs.allows(Action::ViewTicket {
            department_id: "d1",
            customer_id: "x"
        }));
        assert!(!cs.allows(Action::ViewTicket {
            department_id: "d2",
            customer_id: "x"
        }));
        let c = actor(Customer);
        assert!(c.allows(Action::ViewTicket {
            department_id: "d2",
            customer_id: "c1"
        }));
        assert!(!c.allows(Action::ViewTicket {
            department_id: "d2",
            customer_id: "c2"
        }));
        assert!(!c.allows(Action::PostTicketMessage {
            department_id: "d",
            customer_id: "c1",
            internal: true
        }));
        assert!(c.allows(Action::ChangeTicketStatus {
            department_id: "d",
            customer_id: "c1",
            to: crate::domain::TicketStatus::Closed
        }));
        assert!(!c.allows(Action::ChangeTicketStatus {
            department_id: "d",
            customer_id: "c1",
            to: crate::domain::TicketStatus::Resolved
        }));
    }

    #[test]
    fn technicians_work_visits_but_do_not_manage_them() {
        let t = actor(Technician);
        assert!(t.allows(Action::ClaimVisit));
        assert!(t.allows(Action::WorkVisit));
        assert!(!t.allows(Action::ManageVisits));
        assert!(!t.allows(Action::DecideExtensions));
        assert!(!t.allows(Action::ReturnToPool));
        let hidden = Action::ViewVisit {
            customer_id: "c9",
            in_pool: false,
            holder: false,
        };
        assert!(!t.allows(hidden));
        // The pool shows the visit, not its photos; holders see both.
        assert!(t.allows(Action::ViewVisit {
            customer_id: "c9",
            in_pool: true,
            holder: false,
        }));
        assert!(!t.allows(Action::ViewVisitPhotos {
            customer_id: "c9",
            holder: false,
        }));
        assert!(t.allows(Action::ViewVisitPhotos {
            customer_id: "c9",
            holder: true,
        }));
        assert!(!actor(Cs).allows(Action::ClaimVisit));
        assert!(!actor(Cs).allows(Action::ForceVisitChange));
        assert!(actor(Admin).allows(Action::ForceVisitChange));
        assert_eq!(
            actor(Customer).visit_scope(),
            VisitScope::Customer("c1".into())
        );
    }

    #[test]
    fn everyone_may_view_themselves() {
        for role in Role::ALL {
            assert!(actor(*role).allows(Action::ViewUser { user_id: "me" }));
        }
    }
}
