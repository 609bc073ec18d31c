//! JVM attachment of the engine's threads: each is attached once when it starts, as a daemon
//! thread named `kinesis-producer-<producer>-<n>`, and detached when it stops. The JVM never
//! waits for them, and `close` stops and joins them all.

use jni::sys::{jint, JavaVMAttachArgs, JNI_OK, JNI_VERSION_1_8};
use jni::vm::JavaVM;
use kinesis_producer::ThreadHook;
use std::cell::Cell;
use std::ffi::{c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

thread_local! {
    /// True on a thread this module attached (and must detach).
    static ATTACHED_HERE: Cell<bool> = const { Cell::new(false) };
}

/// The hooks that attach a producer's threads when they start and detach them when they stop.
pub fn hooks(producer: u64) -> (ThreadHook, ThreadHook) {
    let started = Arc::new(AtomicU64::new(1));
    let start: ThreadHook = Arc::new(move || {
        let name = format!("kinesis-producer-{producer}-{}", started.fetch_add(1, Ordering::Relaxed));
        // A failed attachment only means this thread's events are not logged.
        let _ = catch_unwind(AssertUnwindSafe(|| attach_current_thread(&name)));
    });
    let stop: ThreadHook = Arc::new(|| {
        let _ = catch_unwind(detach_current_thread);
    });
    (start, stop)
}

/// Attaches the current thread as a named daemon thread; false if it could not be attached.
fn attach_current_thread(name: &str) -> bool {
    let Ok(vm) = JavaVM::singleton() else { return false };
    if vm.is_thread_attached().unwrap_or(true) {
        return false;
    }
    let Ok(name) = CString::new(name) else { return false };
    let raw = vm.get_raw();
    let mut env: *mut c_void = std::ptr::null_mut();
    let mut args =
        JavaVMAttachArgs { version: JNI_VERSION_1_8, name: name.as_ptr().cast_mut(), group: std::ptr::null_mut() };
    // SAFETY: `raw` is the live JavaVM; the arguments outlive the call, which copies the name.
    let status: jint = unsafe {
        ((*(*raw)).v1_4.AttachCurrentThreadAsDaemon)(raw, &mut env, (&mut args as *mut JavaVMAttachArgs).cast())
    };
    let attached = status == JNI_OK;
    ATTACHED_HERE.with(|flag| flag.set(attached));
    attached
}

/// Detaches the current thread if `attach_current_thread` attached it.
fn detach_current_thread() {
    if !ATTACHED_HERE.with(|flag| flag.replace(false)) {
        return;
    }
    let Ok(vm) = JavaVM::singleton() else { return };
    let raw = vm.get_raw();
    // SAFETY: this thread was attached by `attach_current_thread` and holds no JNI references
    // any more: the engine's thread is about to end.
    unsafe {
        ((*(*raw)).v1_4.DetachCurrentThread)(raw);
    }
}
