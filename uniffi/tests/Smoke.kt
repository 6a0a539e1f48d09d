// Kotlin smoke test of the generated fieldops-ffi bindings on the JVM:
// open a store, hit the typed errors, register a listener.

import uniffi.fieldops_ffi.*
import java.io.File
import java.nio.file.Files

var passed = 0
var failed = 0

fun check(name: String, body: () -> Unit) {
    try {
        body()
        passed++
        println("ok   $name")
    } catch (e: Throwable) {
        failed++
        println("FAIL $name: $e")
    }
}

inline fun <reified E : Throwable> expectError(block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("expected ${E::class.simpleName}, got $e")
    }
    throw AssertionError("expected ${E::class.simpleName}")
}

class Recorder : EventListener {
    val events = mutableListOf<EventRecord>()
    override fun onEvent(event: EventRecord) { events.add(event) }
}

fun main() {
    val dir = Files.createTempDirectory("fieldops-kotlin").toFile()
    val visit = "01900000-0000-7000-8000-000000000001"

    check("opens a store and keeps its device id") {
        val path = File(dir, "phone.db").path
        val first = FieldopsClient.open(path).use { it.deviceId() }
        val second = FieldopsClient.open(path).use { it.deviceId() }
        if (first.isEmpty() || first != second) throw AssertionError("$first vs $second")
    }

    check("calls before login are typed errors") {
        FieldopsClient.open(File(dir, "fresh.db").path).use { phone ->
            if (phone.account() != null) throw AssertionError("signed in?")
            expectError<FieldopsException.NotLoggedIn> { phone.claimVisit(visit) }
            expectError<FieldopsException.NotLoggedIn> { phone.startSync() }
            val status = phone.syncStatus()
            if (status.pendingCommands != 0UL.toULong()) throw AssertionError("$status")
            phone.addListener(Recorder())
        }
    }

    check("bad ids and coordinates are typed errors") {
        FieldopsClient.open(File(dir, "bad.db").path).use { phone ->
            val e = expectError<FieldopsException.InvalidInput> { phone.visit("nope") }
            if (e.field != "id") throw AssertionError("field ${e.field}")
            expectError<FieldopsException.InvalidInput> { phone.pool(95.0, 0.0) }
            expectError<FieldopsException.NotFound> { phone.visit(visit) }
            expectError<FieldopsException.InvalidInput> { phone.myVisits("31/12") }
            expectError<FieldopsException.InvalidInput> { phone.invoices("bogus") }
            expectError<FieldopsException.NotFound> { phone.invoice(visit) }
            val pay = expectError<FieldopsException.InvalidInput> {
                phone.payInvoice("nope", 1000L, "", ByteArray(0), 0L)
            }
            if (pay.field != "invoice_id") throw AssertionError("field ${pay.field}")
            val dismiss = expectError<FieldopsException.InvalidInput> { phone.dismissRefused("nope") }
            if (dismiss.field != "id") throw AssertionError("field ${dismiss.field}")
            if (phone.dismissRefused(visit)) throw AssertionError("nothing was refused")
            if (phone.refusedDocuments().isNotEmpty()) throw AssertionError("refused?")
        }
    }

    check("a corrupted store file is a typed error") {
        val broken = File(dir, "broken.db")
        broken.writeBytes(ByteArray(16384) { 0x5a })
        expectError<FieldopsException.StoreUnusable> { FieldopsClient.open(broken.path) }
    }

    println("$passed passed, $failed failed")
    dir.deleteRecursively()
    if (failed > 0) kotlin.system.exitProcess(1)
}
