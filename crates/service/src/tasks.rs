//! A caller's tasks: read, listed, cancelled, deleted, and their callback records.

use super::*;

impl GenerationService {
    /// A task of the caller's, with its result URLs filled in. Another key's task is not found.
    pub async fn get_task(&self, principal: &Principal, id: &str) -> Result<Task, GatewayError> {
        // Copies are trusted only while every change reaches this replica's feed.
        let cached = self.store.changes().is_live();
        if cached {
            if let Some(task) = self.caches.tasks.get(id) {
                if task.account_id == principal.account_id {
                    return Ok(self.with_urls((*task).clone()));
                }
                return Err(GatewayError::NotFound);
            }
        }
        let ticket = self.caches.tasks.begin_read();
        let task = self
            .store
            .get_task(&TaskId::from_string(id), &principal.account_id)
            .await
            .map_err(store_error)?
            .ok_or(GatewayError::NotFound)?;
        // Later polls are answered from memory until the task changes. It is kept unsigned:
        // its media links are signed afresh on every read, so they never expire in the cache.
        if cached {
            self.caches.tasks.insert(ticket, id, Arc::new(task.clone()));
        }
        Ok(self.with_urls(task))
    }

    /// A page of the caller's tasks. A model filter is resolved through the catalog's aliases;
    /// an unknown model matches nothing.
    pub async fn list_tasks(
        &self,
        principal: &Principal,
        mut query: TaskQuery,
    ) -> Result<TaskPage, GatewayError> {
        if let Some(model) = &query.model {
            query.model = Some(
                self.catalog
                    .lookup(model)
                    .map(|spec| spec.id.clone())
                    .unwrap_or_else(|| model.clone()),
            );
        }
        let page = self
            .store
            .list_tasks(&principal.account_id, &query)
            .await
            .map_err(store_error)?;
        Ok(TaskPage {
            tasks: page.tasks.into_iter().map(|t| self.with_urls(t)).collect(),
            ..page
        })
    }

    /// Deletes the record of a finished task (Ark's and the videos API's DELETE), then its
    /// files: nothing refers to them any more.
    pub async fn delete_task(&self, principal: &Principal, id: &str) -> Result<(), GatewayError> {
        let task = self.get_task(principal, id).await?;
        match self
            .store
            .delete_task(&task.id, &principal.account_id)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(GatewayError::NotDeletable),
            Err(e) => return Err(store_error(e)),
        }
        if let Some(output) = &task.output {
            let blobs = self.media.blobs();
            for key in output.video_keys.iter().chain(&output.last_frame_key) {
                // Best effort: a file left behind costs disk, not correctness.
                if let Err(e) = blobs.delete(key).await {
                    tracing::warn!(error = %e, key, "removing a deleted task's file failed");
                }
            }
        }
        Ok(())
    }

    /// Cancels a queued task and refunds it.
    pub async fn cancel_task(&self, principal: &Principal, id: &str) -> Result<Task, GatewayError> {
        match self
            .store
            .cancel_task(&TaskId::from_string(id), &principal.account_id)
            .await
        {
            Ok(task) => Ok(self.with_urls(task)),
            Err(StoreError::Conflict(_)) => Err(GatewayError::NotCancellable),
            Err(e) => Err(store_error(e)),
        }
    }

    /// A task's callback and its delivery attempts; `None` while there is none (no callback
    /// URL, or the task has not finished).
    pub async fn callbacks(
        &self,
        principal: &Principal,
        task_id: &str,
    ) -> Result<(Task, Option<CallbackRecord>), GatewayError> {
        // The task must be the caller's and visible (not deleted).
        let task = self.get_task(principal, task_id).await?;
        let record = self
            .store
            .callback_record(&task.id, &principal.account_id)
            .await
            .map_err(store_error)?;
        Ok((task, record))
    }

    /// Sends a task's callback again, now.
    pub async fn redeliver_callback(
        &self,
        principal: &Principal,
        task_id: &str,
    ) -> Result<(Task, Option<CallbackRecord>), GatewayError> {
        let task = self.get_task(principal, task_id).await?;
        match self
            .store
            .redeliver_callback(&task.id, &principal.account_id)
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => {
                return Err(ValidationError::invalid(
                    "callback_url",
                    if task.request.callback_url.is_some() {
                        "the task has not finished yet; its callback is sent when it does"
                    } else {
                        "the task was created without a callback URL"
                    },
                )
                .into())
            }
            Err(e) => return Err(store_error(e)),
        }
        self.callbacks(principal, task_id).await
    }
}
